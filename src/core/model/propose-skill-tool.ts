/**
 * The proposal tool as both APIs declare it: a function tool with a strict
 * JSON schema, whose descriptions teach the model the Agent Skills rules the
 * library enforces. It runs nothing; the core stores what it is given.
 */

export const proposeSkillDescription =
  "Proposes a skill: a small, tested Python module the team can import in new conversations. It is stored for an " +
  "approver to review and is not usable before approval. This runs no code. Propose only code that ran successfully " +
  "in this session; never data, credentials or secrets. The result says whether it was stored, or which rule it broke.";

/** JSON Schema of the arguments; strict: every property required, nothing else allowed. */
export const proposeSkillParameters: Record<string, unknown> = {
  type: "object",
  properties: {
    name: {
      type: "string",
      description:
        "The skill's name: 1 to 64 lowercase letters, digits and single hyphens, no hyphen at either end, e.g. fiscal-calendar.",
    },
    description: {
      type: "string",
      description:
        "What the skill does and when to use it, in one or two sentences (at most 1024 characters). Other conversations see only this line.",
    },
    instructions: {
      type: "string",
      description:
        "The body of the skill's SKILL.md, in Markdown: how to use it, with the import line (from skills.<stem> import ...), " +
        "each function's arguments and result, and a short example. Do not repeat the name and description as front matter.",
    },
    files: {
      type: "array",
      description:
        "The skill's files: at least one scripts/<stem>.py, where <stem> is a Python identifier (letters, digits and " +
        "underscores, not starting with a digit) and the module is imported as skills.<stem>; optionally references/... " +
        "(documents) and assets/... (templates, small static files). Not SKILL.md: it is built from the fields above.",
      items: {
        type: "object",
        properties: {
          path: { type: "string", description: "The path inside the skill's folder, e.g. scripts/fiscal_calendar.py." },
          content: { type: "string", description: "The file's whole text." },
        },
        required: ["path", "content"],
        additionalProperties: false,
      },
    },
    requirements: {
      type: "array",
      description:
        "Packages the skill's code imports that the sandbox does not have, as pip requirements (a name, optionally a version " +
        "such as tabulate>=0.9; at most 20). They are installed when a session imports the skill, where sessions can install " +
        "packages. Usually [].",
      items: { type: "string" },
    },
  },
  required: ["name", "description", "instructions", "files", "requirements"],
  additionalProperties: false,
};
