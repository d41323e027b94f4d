/** The in-container runner (sandbox/runner.py) through a real Docker sandbox: capture, figures, tracebacks. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import type { DockerSandbox } from "../src/sandbox/docker/docker-sandbox.ts";
import { removeInstance, startTestSandbox, testInstance } from "./support/sandbox.ts";

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Busy loops on the host, one per CPU, so the container's threads are starved and scheduled late. */
function startCpuHogs(count: number): ChildProcess[] {
  return Array.from({ length: count }, () => spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" }));
}

describe("runner", () => {
  const instance = testInstance();
  let sandbox: DockerSandbox;

  before(async () => {
    sandbox = await startTestSandbox({ instance, cellTimeoutMs: 20_000 });
  });
  after(async () => {
    await sandbox?.close();
    await removeInstance(instance);
  });

  test("output of subprocesses is never lost between cells, even with the CPUs busy", async () => {
    const session = await sandbox.acquire("capture-race");
    const hogs = startCpuHogs(2);
    try {
      for (let cell = 0; cell < 150; cell += 1) {
        const code = [
          "import os, subprocess, sys",
          `print('python-${cell}')`,
          `print('python-err-${cell}', file=sys.stderr)`,
          `subprocess.run(['echo', 'subprocess-${cell}'])`,
          `os.system('echo system-${cell}; echo system-err-${cell} >&2')`,
          // A print lands after what the subprocesses wrote before it.
          `print('python-after-${cell}')`,
          // Written by the runner's own process at descriptor level, as C code would, right before the cell ends.
          `os.write(1, b'descriptor-${cell}\\n')`,
          "None",
        ].join("\n");
        const result = await session.run(code);
        assert.equal(result.error, null, `cell ${cell} failed`);
        assert.equal(result.stdout, `python-${cell}\nsubprocess-${cell}\nsystem-${cell}\npython-after-${cell}\ndescriptor-${cell}\n`, `cell ${cell}`);
        assert.equal(result.stderr, `python-err-${cell}\nsystem-err-${cell}\n`, `cell ${cell}`);
      }
    } finally {
      for (const hog of hogs) hog.kill("SIGKILL");
    }
  });

  test("what a forked child prints is captured, in order with the parent's output", async () => {
    const session = await sandbox.acquire("forked-child");
    const result = await session.run("import os, sys\npid = os.fork()\nif pid == 0:\n    print('from the child')\n    print('child error', file=sys.stderr)\n    os._exit(0)\nos.waitpid(pid, 0)\nprint('from the parent')");
    assert.equal(result.error, null);
    assert.equal(result.stdout, "from the child\nfrom the parent\n");
    assert.equal(result.stderr, "child error\n");
    assert.equal((await session.run("'alive'")).value, "'alive'");
  });

  test("a cell's figures are bounded: 10 saved and returned, the rest closed and named as omitted", async () => {
    const session = await sandbox.acquire("many-figures");
    const result = await session.run("import matplotlib.pyplot as plt\nfor i in range(40):\n    plt.figure()\n    plt.plot([0, i])");
    assert.equal(result.error, null);
    const cell = /^figure-(\d+)-1\.png$/.exec(result.figures[0]?.name ?? "")?.[1];
    assert.ok(cell, `first figure named ${result.figures[0]?.name}`);
    const names = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => `figure-${cell}-${from + index}.png`);
    assert.deepEqual(result.figures.map((figure) => figure.name), names(1, 10));
    assert.deepEqual(result.figuresOmitted, names(11, 40));
    assert.deepEqual(result.files.map((file) => file.name), names(1, 10).toSorted(), "omitted figures were not saved");
    for (const figure of result.figures) assert.deepEqual(figure.png?.subarray(0, 8), PNG_MAGIC);
    const next = await session.run("import matplotlib.pyplot as plt\n(len(plt.get_fignums()), 1 + 1)");
    assert.equal(next.value, "(0, 2)");
    assert.deepEqual(next.figuresOmitted, []);
  });

  test("figures travel inline within a budget per cell; past it the file is read with getFiles", async () => {
    const session = await sandbox.acquire("figure-budget");
    // Random noise does not compress: each figure is a PNG of about 2.5 MB, four of them past 8 MB.
    const code = "import numpy as np, matplotlib.pyplot as plt\nfor seed in range(4):\n    plt.figure(figsize=(10, 10))\n    plt.imshow(np.random.default_rng(seed).integers(0, 256, (1000, 1000, 3), dtype=np.uint8), interpolation='nearest')\n    plt.axis('off')";
    const result = await session.run(code);
    assert.equal(result.error, null);
    assert.equal(result.figures.length, 4);
    const inline = result.figures.filter((figure) => figure.png !== null);
    const outside = result.figures.filter((figure) => figure.png === null);
    assert.ok(inline.reduce((sum, figure) => sum + figure.bytes, 0) <= 8 * 1024 * 1024, "inline PNGs within 8 MB");
    assert.equal(outside.length, 1, `sizes ${result.figures.map((figure) => `${figure.bytes}${figure.png ? "" : " (file)"}`).join(", ")}`);
    const [left] = outside;
    assert.equal(left, result.figures[3], "the figure that no longer fit is the last");
    assert.ok(left!.bytes <= 4 * 1024 * 1024, "left out for the budget, not for its own size");
    const [file] = await session.getFiles([left!.name]);
    assert.equal(file?.bytes, left!.bytes);
    assert.deepEqual(file?.data.subarray(0, 8), PNG_MAGIC);
  });

  test("a figure the code saved as PNG comes back under its name, not again as figure-N.png", async () => {
    const session = await sandbox.acquire("saved-png");
    const code = "import numpy as np, matplotlib.pyplot as plt\nt = np.linspace(0, 10, 200)\nplt.plot(t, np.exp(-t / 3) * np.cos(3 * t))\nplt.savefig('damped.png')\nplt.show()";
    const result = await session.run(code);
    assert.equal(result.error, null);
    assert.deepEqual(result.figures.map((figure) => figure.name), ["damped.png"]);
    assert.deepEqual(result.files.map((file) => file.name), ["damped.png"]);
    const [file] = await session.getFiles(["damped.png"]);
    assert.equal(result.figures[0]!.bytes, file?.bytes);
    assert.deepEqual(result.figures[0]!.png, file?.data, "inline, the bytes of the code's own file");
    // With a second figure the code did not save, only that one is saved by the runner.
    const mixed = await session.run("import os\nos.makedirs('plots')\nplt.figure()\nplt.plot([1, 2])\nplt.savefig('plots/line.png')\nplt.figure()\nplt.plot([2, 1])");
    const cell = /^figure-(\d+)\.png$/.exec(mixed.figures[1]?.name ?? "")?.[1];
    assert.ok(cell, `second figure named ${mixed.figures[1]?.name}`);
    assert.deepEqual(mixed.figures.map((figure) => figure.name), ["plots/line.png", `figure-${cell}.png`]);
  });

  test("a figure the code saved in another format is not saved again as a PNG", async () => {
    const session = await sandbox.acquire("saved-pdf");
    const pdf = await session.run("import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.savefig('damped.pdf')\nplt.show()");
    assert.equal(pdf.error, null);
    assert.deepEqual(pdf.figures, []);
    assert.deepEqual(pdf.files.map((file) => file.name), ["damped.pdf"]);
    const svg = await session.run("fig, axes = plt.subplots()\naxes.plot([1, 2])\nfig.savefig('chart.svg')");
    assert.deepEqual(svg.figures, []);
    assert.deepEqual(svg.files.map((file) => file.name), ["chart.svg"]);
  });

  test("a traceback keeps the cell's frames and the frame that raised, and folds the library frames between", async () => {
    const session = await sandbox.acquire("tracebacks");
    // The traceback Python itself would print, for comparison.
    const untrimmed = await session.run("import pandas as pd, traceback\ndf = pd.DataFrame({'a': [1, 2]})\ntry:\n    df['nope']\nexcept KeyError as error:\n    untrimmed = ''.join(traceback.format_exception(error))\nlen(untrimmed.splitlines())");
    const untrimmedLines = Number(untrimmed.value);
    const failed = await session.run("df['nope']");
    assert.equal(failed.error?.name, "KeyError");
    const lines = (failed.error?.traceback ?? "").trimEnd().split("\n");
    assert.equal(lines[0], "Traceback (most recent call last):");
    assert.match(lines[1] ?? "", /^ {2}File "<cell \d+>", line 1, in <module>$/);
    const fold = lines.findIndex((line) => /^ {2}… \d+ frames? in pandas …$/.test(line));
    assert.ok(fold > 1, `a fold line naming pandas in:\n${lines.join("\n")}`);
    assert.match(lines[fold + 1] ?? "", /^ {2}File ".*\/pandas\/.*", line \d+, in get_loc$/, "the pandas frame that raised");
    assert.equal(lines.at(-1), "KeyError: 'nope'");
    assert.ok(lines.length * 2 <= untrimmedLines, `${lines.length} lines, ${untrimmedLines} untrimmed`);

    const deep = await session.run("pd.read_csv('missing.csv')");
    assert.equal(deep.error?.name, "FileNotFoundError");
    const deepText = deep.error?.traceback ?? "";
    assert.ok(Number(/… (\d+) frames in pandas …/.exec(deepText)?.[1]) > 1, deepText);
    assert.equal(deepText.match(/^ {2}File /gm)?.length, 2, `the cell's frame and the one that raised only:\n${deepText}`);

    // A library calling back into the cell's code: the cell's frames stay, no library frame does.
    const callback = await session.run("def ratio(row):\n    return row['a'] / 0 if row['a'] > 5 else 1 // 0\ndf.apply(ratio, axis=1)");
    assert.equal(callback.error?.name, "ZeroDivisionError");
    const callbackText = callback.error?.traceback ?? "";
    assert.match(callbackText, /File "<cell \d+>", line 3, in <module>\n[\s\S]*… \d+ frames in pandas …\n {2}File "<cell \d+>", line 2, in ratio\n/);
    assert.doesNotMatch(callbackText, /File "[^<]/, "no library frame kept");
  });
});
