/**
 * Loopback servers for the door-out tests: a plain HTTP server with a few
 * routes, and a minimal PEP 503 package index serving a wheel the test
 * builds (pure Python, written with the host's Python zipfile module).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

export interface LoopbackServer {
  port: number;
  /** Paths requested so far, in order. */
  requests: string[];
  close(): Promise<void>;
}

async function listen(server: Server, requests: string[]): Promise<LoopbackServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * `/hello` says who answered; `/big` announces a megabyte; `/stream` sends
 * without a length until the connection is cut; `/host` says the Host header
 * it got; `/hang` never answers.
 */
export function startContentServer(name: string): Promise<LoopbackServer> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(request.url ?? "");
    if (request.url === "/big") {
      response.writeHead(200, { "content-length": String(1024 * 1024) });
      response.end(Buffer.alloc(1024 * 1024, 97));
    } else if (request.url === "/stream") {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(16 * 1024, 98);
      const pump = () => {
        while (!response.destroyed && response.write(chunk));
        if (!response.destroyed) response.once("drain", pump);
      };
      pump();
    } else if (request.url === "/host") {
      response.end(String(request.headers.host));
    } else if (request.url === "/hang") {
      // Never answers: the door's time limit ends it.
    } else {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(`hello from ${name}`);
    }
  });
  return listen(server, requests);
}

/** Builds a pure-Python wheel `name-version-py3-none-any.whl` in `directory`; its module's `hello()` returns `greeting`. */
export function buildPureWheel(directory: string, name: string, version: string, greeting: string): string {
  const file = `${name}-${version}-py3-none-any.whl`;
  const script = `
import base64, hashlib, sys, zipfile
directory, name, version, greeting, file = sys.argv[1:6]
info = "%s-%s.dist-info" % (name, version)
files = {
    "%s/__init__.py" % name: "def hello():\\n    return %r\\n" % greeting,
    "%s/METADATA" % info: "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (name, version),
    "%s/WHEEL" % info: "Wheel-Version: 1.0\\nGenerator: threadbook-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
record.append("%s/RECORD,," % info)
files["%s/RECORD" % info] = "\\n".join(record) + "\\n"
with zipfile.ZipFile("%s/%s" % (directory, file), "w") as wheel:
    for path, text in files.items():
        wheel.writestr(path, text)
`;
  execFileSync("python3", ["-c", script, directory, name, version, greeting, file]);
  return join(directory, file);
}

/**
 * Builds a wheel with a compiled extension, `name-version-cp311-cp311-linux_x86_64.whl`,
 * from C with the host's compiler and Python headers (the sandbox's Python is 3.11 on the
 * same Debian); its `add(a, b)` adds two integers.
 */
export function buildCompiledWheel(directory: string, name: string, version: string): string {
  const file = `${name}-${version}-cp311-cp311-linux_x86_64.whl`;
  const script = `
import base64, hashlib, os, subprocess, sys, sysconfig, zipfile
directory, name, version, file = sys.argv[1:5]
source = os.path.join(directory, name + ".c")
with open(source, "w") as out:
    out.write("""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Adds two integers."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "%s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%s(void) { return PyModule_Create(&module); }
""" % (name, name))
library = os.path.join(directory, name + ".cpython-311-x86_64-linux-gnu.so")
subprocess.check_call(["gcc", "-shared", "-fPIC", "-O2", "-I", sysconfig.get_paths()["include"], source, "-o", library])
info = "%s-%s.dist-info" % (name, version)
with open(library, "rb") as compiled:
    files = {os.path.basename(library): compiled.read()}
files["%s/METADATA" % info] = ("Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (name, version)).encode()
files["%s/WHEEL" % info] = b"Wheel-Version: 1.0\\nGenerator: threadbook-test\\nRoot-Is-Purelib: false\\nTag: cp311-cp311-linux_x86_64\\n"
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append("%s,sha256=%s,%d" % (path, digest, len(data)))
record.append("%s/RECORD,," % info)
files["%s/RECORD" % info] = ("\\n".join(record) + "\\n").encode()
with zipfile.ZipFile(os.path.join(directory, file), "w") as wheel:
    for path, data in files.items():
        wheel.writestr(path, data)
`;
  execFileSync("python3", ["-c", script, directory, name, version, file]);
  return join(directory, file);
}

/** A simple index (PEP 503) at `/simple/` serving the given wheel files. */
export function startPackageIndex(wheels: string[]): Promise<LoopbackServer> {
  const requests: string[] = [];
  const byName = new Map<string, { file: string; data: Buffer }[]>();
  for (const path of wheels) {
    const file = path.split("/").at(-1) as string;
    const project = (file.split("-")[0] as string).toLowerCase().replace(/[_.]+/g, "-");
    byName.set(project, [...(byName.get(project) ?? []), { file, data: readFileSync(path) }]);
  }
  const server = createServer((request, response) => {
    const url = request.url ?? "";
    requests.push(url);
    const project = /^\/simple\/([^/]+)\/?$/.exec(url)?.[1];
    if (project !== undefined && byName.has(project)) {
      const links = (byName.get(project) ?? []).map(({ file, data }) => `<a href="/files/${file}#sha256=${createHash("sha256").update(data).digest("hex")}">${file}</a>`);
      response.writeHead(200, { "content-type": "text/html" });
      return response.end(`<!DOCTYPE html><html><body>${links.join("\n")}</body></html>`);
    }
    const wanted = /^\/files\/([^/]+)$/.exec(url)?.[1];
    const found = [...byName.values()].flat().find(({ file }) => file === wanted);
    if (found !== undefined) {
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(found.data.length) });
      return response.end(found.data);
    }
    response.writeHead(404);
    response.end("not found");
  });
  return listen(server, requests);
}
