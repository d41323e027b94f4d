/**
 * The `skills` package a session imports skills from, written by root into
 * /skills/.python/skills/ with the skills (skill-files.ts). Its submodules
 * are found in every skill's scripts/, so `skills.<stem>` imports
 * scripts/<stem>.py; the path is listed afresh at each import, so skills
 * given to a running session are found.
 *
 * Before `skills.<stem>` is imported, the packages its skill declares
 * (requirements.json beside it, written by the host from the validated
 * SKILL.md) are installed through pip_magic.install, the pip of `%pip
 * install`, where the session has a door out; once per session per set of
 * packages (a marker in the package directory outlives a kernel restart).
 * A failure is the import's ImportError, with pip's last lines. Without a
 * door the module imports as before, and a ModuleNotFoundError from it says
 * the skill needs packages this session cannot install.
 */
import { SKILLS_DIR } from "./container-spec.ts";

/** Beside the package's __init__.py: `{"<skill name>": ["tabulate>=0.9", …]}` for skills declaring packages. */
export const requirementsFileName = "requirements.json";

export const skillsPackageInit = `"""Approved skills: scripts/<stem>.py of /skills/<name>/ imports as skills.<stem>."""
import hashlib as _hashlib
import importlib.machinery as _machinery
import json as _json
import os as _os
import sys as _sys

_SKILLS = "${SKILLS_DIR}"
_REQUIREMENTS = _os.path.join(_os.path.dirname(__file__), "${requirementsFileName}")
# Lines of pip's output a failed install shows.
_PIP_TAIL_LINES = 12


def _skill_names():
    return sorted(_name for _name in _os.listdir(_SKILLS) if not _name.startswith("."))


def _scripts():
    return [
        _os.path.join(_SKILLS, _name, "scripts")
        for _name in _skill_names()
        if _os.path.isdir(_os.path.join(_SKILLS, _name, "scripts"))
    ]


class _ScriptsPath(list):
    def __iter__(self):
        return iter(_scripts())

    def __len__(self):
        return len(_scripts())

    def __repr__(self):
        return repr(_scripts())


__path__ = _ScriptsPath()


def _needs(stem):
    """(skill, requirements) for the skill holding scripts/<stem>.py, when it declares packages; else None."""
    for name in _skill_names():
        if _os.path.isfile(_os.path.join(_SKILLS, name, "scripts", stem + ".py")):
            try:
                with open(_REQUIREMENTS, encoding="utf-8") as file:
                    requirements = _json.load(file).get(name) or []
            except (OSError, ValueError):
                return None
            return (name, list(requirements)) if requirements else None
    return None


def _door_open():
    return bool(_os.environ.get("THREADBOOK_EGRESS_DIR")) and bool(_os.environ.get("PIP_TARGET"))


_installed = set()


def _install(skill, requirements):
    key = _hashlib.sha256("\\n".join(sorted(requirements)).encode("utf-8")).hexdigest()[:32]
    marker = _os.path.join(_os.environ["PIP_TARGET"], ".threadbook-skill-requirements", key)
    if key in _installed or _os.path.exists(marker):
        _installed.add(key)
        return
    pip = _sys.modules.get("pip_magic")
    if pip is None:
        raise ImportError("The skill %r needs the packages %s, which install only in a session's cells." % (skill, ", ".join(requirements)))
    code, output = pip.install(requirements)
    if code != 0:
        tail = "\\n".join(output.strip().splitlines()[-_PIP_TAIL_LINES:])
        raise ImportError(
            "The skill %r needs the packages %s, which could not be installed (pip exited with code %d):\\n%s"
            % (skill, ", ".join(requirements), code, tail)
        )
    _os.makedirs(_os.path.dirname(marker), exist_ok=True)
    open(marker, "w").close()
    _installed.add(key)
    print("Installed %s for the skill %r." % (", ".join(requirements), skill))


class _Explained:
    """A skill module's loader whose missing-module error says why the module is missing."""

    def __init__(self, loader, skill, requirements):
        self._loader = loader
        self._skill = skill
        self._requirements = requirements

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        try:
            self._loader.exec_module(module)
        except ModuleNotFoundError as error:
            raise ModuleNotFoundError(
                "%s. The skill %r needs the packages %s, which this session cannot install: it has no network (no door out). "
                "Work without this skill, or tell the user." % (error.msg, self._skill, ", ".join(self._requirements)),
                name=error.name,
            ) from error

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _Requirements:
    """On sys.meta_path before the path finder: sees \`skills.<stem>\` first."""

    threadbook_skills = True

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        parent, _, stem = fullname.partition(".")
        if parent != __name__ or not stem or "." in stem:
            return None
        found = _needs(stem)
        if found is None:
            return None
        if _door_open():
            _install(*found)
            return None
        spec = _machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Explained(spec.loader, *found)
        return spec

    @staticmethod
    def invalidate_caches():
        pass


_sys.meta_path[:] = [_finder for _finder in _sys.meta_path if not getattr(_finder, "threadbook_skills", False)]
_sys.meta_path.insert(0, _Requirements)
`;
