/**
 * The conversation every notebook export test plays, on every surface: a
 * question with a CSV attached, a cell that fails, the cell that fixes it
 * (printing to stdout and stderr), a DataFrame, a figure, and the answer.
 * `assertScenarioNotebook` checks a notebook read back by the real
 * nbformat (nbformat-check.ts) holds exactly those cells and outputs.
 */
import assert from "node:assert/strict";
import { codeStep, textStep } from "../emulators/openai-server.ts";
import type { ScriptEntry } from "../emulators/openai-script.ts";
import type { ReadNotebook } from "./nbformat-check.ts";

export const scenarioQuestion = "Which region sold the most? Plot it.";
export const scenarioFileName = "sales.csv";
export const scenarioCsv = "region,amount\nNorth,10\nSouth,5\nNorth,20\n";
export const scenarioAnswer = "North sold the most: **30** against 5.";

export const failingCode = "import pandas as pd\nsales = pd.read_csv('sales.csv')\nsales['revenue'].sum()";
export const fixedCode = "import sys\nprint('total:', sales['amount'].sum())\nprint('revenue is called amount here', file=sys.stderr)";
export const frameCode = "by_region = sales.groupby('region', as_index=False)['amount'].sum()\nby_region";
export const figureCode = "import matplotlib.pyplot as plt\nplt.bar(by_region['region'], by_region['amount']);";

/** The model's steps: four cells, one at a time, then the answer. */
export function scenarioSteps(): ScriptEntry[] {
  return [codeStep(failingCode), codeStep(fixedCode), codeStep(frameCode), codeStep(figureCode), textStep(scenarioAnswer)];
}

/** `asker`: how the question cell names who asked, e.g. "ada" or "slack user U0ADA". */
export function assertScenarioNotebook(notebook: ReadNotebook, asker: string): void {
  assert.equal(notebook.nbformat, 4);
  assert.equal(notebook.nbformat_minor, 5);
  assert.equal(notebook.metadata.title, "Which region sold the most? Plot it.");
  assert.deepEqual(notebook.cells.map((cell) => [cell.cell_type, cell.id]), [
    ["markdown", "question-1"],
    ["code", "cell-1"],
    ["code", "cell-2"],
    ["code", "cell-3"],
    ["code", "cell-4"],
    ["markdown", "answer-1"],
  ]);
  const [question, failing, fixed, frame, figure, answer] = notebook.cells as [ReadNotebook["cells"][number], ...ReadNotebook["cells"]];
  assert.equal(question.source, `**${asker}** asked:\n\n> ${scenarioQuestion}\n\nAttached: \`${scenarioFileName}\` (${scenarioCsv.length} B)`);

  assert.equal(failing?.source, failingCode);
  assert.equal(failing?.execution_count, 1);
  assert.deepEqual(failing?.outputs?.map((output) => output.output_type), ["error"]);
  const error = failing?.outputs?.[0];
  assert.equal(error?.ename, "KeyError");
  assert.equal(error?.evalue, "'revenue'");
  assert.match(error?.traceback?.join("\n") ?? "", /sales\['revenue'\]\.sum\(\)/);
  assert.equal(error?.traceback?.at(-1), "KeyError: 'revenue'");

  assert.equal(fixed?.source, fixedCode);
  assert.equal(fixed?.execution_count, 2);
  assert.deepEqual(fixed?.outputs, [
    { output_type: "stream", name: "stdout", text: "total: 35\n" },
    { output_type: "stream", name: "stderr", text: "revenue is called amount here\n" },
  ]);

  assert.equal(frame?.source, frameCode);
  assert.deepEqual(frame?.outputs?.map((output) => [output.output_type, output.execution_count, Object.keys(output.data ?? {}).sort()]), [
    ["execute_result", 3, ["text/html", "text/plain"]],
  ]);
  const frameData = frame?.outputs?.[0]?.data ?? {};
  assert.equal(frameData["text/plain"], "  region  amount\n0  North      30\n1  South       5");
  assert.match(frameData["text/html"] ?? "", /<table border="1" class="dataframe">[\s\S]*<td>North<\/td>\s*<td>30<\/td>[\s\S]*<td>South<\/td>\s*<td>5<\/td>[\s\S]*<\/table>/);

  assert.equal(figure?.source, figureCode);
  assert.deepEqual(figure?.outputs?.map((output) => [output.output_type, Object.keys(output.data ?? {}).sort(), output.png?.signature]), [
    ["display_data", ["image/png", "text/plain"], true],
  ]);
  assert.ok((figure?.outputs?.[0]?.png?.width ?? 0) > 100, "the figure is a real PNG image of some width");

  assert.equal(answer?.source, scenarioAnswer);
}
