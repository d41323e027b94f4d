/**
 * The runner's channel as the bot sees it: a real `RunnerChannel` over a real
 * TCP connection on 127.0.0.1, the test playing the container and writing
 * Docker-framed stdout and stderr. Every byte it sends is untrusted: lines are
 * bounded, parsed and checked, and anything else closes the channel. Below,
 * the two pieces it is built of, the demuxer and the line framer, byte by byte.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { DockerStreamDemuxer, type StreamName } from "../src/sandbox/docker/docker-stream-demuxer.ts";
import { LineFramer } from "../src/sandbox/docker/line-framer.ts";
import { ChannelClosedError, ChannelTimeoutError, ProtocolViolationError, RunnerFaultError, type ChannelBounds } from "../src/sandbox/docker/runner-channel.ts";
import { pingReply } from "../src/sandbox/docker/runner-replies.ts";
import { captureLogger, type CapturedLog } from "./support/capture-logger.ts";
import { cut, dockerFrame, openLoopbackChannel, type LoopbackChannel } from "./support/loopback-runner.ts";

const bounds: ChannelBounds = { maxLineBytes: 1024, logBytes: 100, diagnosticsBytes: 1000 };

async function open(t: TestContext, overrides: Partial<ChannelBounds> = {}): Promise<LoopbackChannel & { log: CapturedLog }> {
  const log = captureLogger();
  const loopback = await openLoopbackChannel(log.logger, { ...bounds, ...overrides });
  t.after(() => loopback.stop());
  return { ...loopback, log };
}

const line = (value: unknown) => Buffer.from(`${JSON.stringify(value)}\n`);

function isViolation(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ProtocolViolationError, `expected a ProtocolViolationError, got ${String(error)}`);
    assert.match(error.reason, pattern);
    return true;
  };
}

/** A violation closes the channel for good: the container's end sees the hang-up, later requests reject at once. */
async function assertClosedBy(loopback: LoopbackChannel & { log: CapturedLog }, pattern: RegExp): Promise<void> {
  await loopback.container.closed;
  assert.equal(loopback.channel.closed, true);
  assert.ok(loopback.channel.closedError instanceof ProtocolViolationError);
  await assert.rejects(loopback.channel.request({ op: "ping" }, pingReply), isViolation(pattern));
  const warning = loopback.log.lines().find((entry) => entry["msg"] === "runner broke the protocol; its session is restarted");
  assert.match(String(warning?.["reason"]), pattern);
}

// The time limit only turns a reply the channel lost into a failure instead of a hang.
describe("runner channel over loopback", { timeout: 60_000 }, () => {
  test("a reply cut across chunks and frames, headers cut too, is read whole", async (t) => {
    const loopback = await open(t);
    const { channel, container } = loopback;
    const reply = channel.request({ op: "ping" }, pingReply);
    const request = await container.nextRequest();
    assert.equal(request["op"], "ping");
    const bytes = line({ id: request.id, ok: true, python: "3.11.2" });
    // The runner's ready line first, then the reply in three frames, all sent three bytes at a time.
    const frames = Buffer.concat([
      dockerFrame("stdout", line({ id: 0, op: "ready" })),
      dockerFrame("stdout", bytes.subarray(0, 5)),
      dockerFrame("stdout", bytes.subarray(5, 20)),
      dockerFrame("stdout", bytes.subarray(20)),
    ]);
    await container.sendPieces(cut(frames, 3));
    assert.deepEqual(await reply, { ok: true, python: "3.11.2" });

    // Two replies in one frame, then one a byte at a time: each request gets its own.
    const first = channel.request({ op: "ping" }, pingReply);
    const second = channel.request({ op: "ping" }, pingReply);
    const [one, two] = [await container.nextRequest(), await container.nextRequest()];
    await container.send(dockerFrame("stdout", Buffer.concat([line({ id: two.id, ok: true, python: "two" }), line({ id: one.id, ok: true, python: "one" })])));
    assert.deepEqual([await first, await second], [{ ok: true, python: "one" }, { ok: true, python: "two" }]);
    const third = channel.request({ op: "ping" }, pingReply);
    await container.sendPieces(cut(dockerFrame("stdout", line({ id: (await container.nextRequest()).id, ok: true, python: "three" })), 1));
    assert.deepEqual(await third, { ok: true, python: "three" });
    assert.equal(channel.closed, false);
  });

  test("the ready line is taken once, before any reply; a second one is a violation", async (t) => {
    const loopback = await open(t);
    const { channel, container } = loopback;
    const reply = channel.request({ op: "ping" }, pingReply);
    const { id } = await container.nextRequest();
    await container.send(dockerFrame("stdout", Buffer.concat([line({ id: 0, op: "ready" }), line({ id, ok: true, python: "3.11.2" })])));
    assert.deepEqual(await reply, { ok: true, python: "3.11.2" });
    const pending = channel.request({ op: "ping" }, pingReply);
    await container.nextRequest();
    const rejected = assert.rejects(pending, isViolation(/a second ready line/));
    await container.send(dockerFrame("stdout", line({ id: 0, op: "ready" })));
    await rejected;
    await assertClosedBy(loopback, /a second ready line/);
  });

  test("a late reply to an earlier process's request is dropped, a few times at most; one to no request of anyone's is a violation", async (t) => {
    const loopback = await open(t);
    const { channel, container } = loopback;
    const reply = channel.request({ op: "ping" }, pingReply);
    const { id } = await container.nextRequest();
    // An id below this channel's first: a request the previous process sent before it died.
    await container.send(dockerFrame("stdout", line({ id: id - 5_000_000, ok: true, python: "late" })));
    await container.send(dockerFrame("stdout", line({ id, ok: true, python: "mine" })));
    assert.deepEqual(await reply, { ok: true, python: "mine" });
    assert.equal(channel.closed, false);
    const next = channel.request({ op: "ping" }, pingReply);
    await container.nextRequest();
    const rejected = assert.rejects(next, isViolation(/a reply to no request in flight/));
    await container.send(dockerFrame("stdout", line({ id: id + 1_000, ok: true, python: "forged" })));
    await rejected;
  });

  test("a line over the bound closes the channel, and requests in flight reject", async (t) => {
    const loopback = await open(t);
    const { channel, container } = loopback;
    const reply = channel.request({ op: "ping" }, pingReply);
    await container.nextRequest();
    // A line exactly at the bound is read; one byte more, never ended by a newline, is a violation.
    const atBound = channel.request({ op: "ping" }, pingReply);
    const { id } = await container.nextRequest();
    const exact = Buffer.from(JSON.stringify({ id, ok: true, python: "x" }).padEnd(1024, " "));
    await container.send(dockerFrame("stdout", Buffer.concat([exact, Buffer.from("\n")])));
    assert.deepEqual(await atBound, { ok: true, python: "x" });
    const rejected = assert.rejects(reply, isViolation(/a line of more than 1025 bytes without a newline \(the bound is 1024\)/));
    // Sent in frames of 100 bytes: the bound is crossed in the eleventh, and the channel reads no further.
    await container.sendPieces(cut(Buffer.alloc(1025, "x"), 100).map((piece) => dockerFrame("stdout", piece)));
    await rejected;
    await assertClosedBy(loopback, /without a newline/);
  });

  test("a line that is not JSON closes the channel", async (t) => {
    const loopback = await open(t);
    const reply = loopback.channel.request({ op: "ping" }, pingReply);
    await loopback.container.nextRequest();
    await loopback.container.send(dockerFrame("stdout", "{not json\n"));
    await assert.rejects(reply, isViolation(/a line that is not JSON \(9 bytes, starting "\{not json"\)/));
    await assertClosedBy(loopback, /not JSON/);
  });

  test("JSON without a numeric id closes the channel", async (t) => {
    const loopback = await open(t);
    const reply = loopback.channel.request({ op: "ping" }, pingReply);
    await loopback.container.nextRequest();
    await loopback.container.send(dockerFrame("stdout", line({ id: "1", ok: true })));
    await assert.rejects(reply, isViolation(/not a reply \(no numeric id\)/));
    await assertClosedBy(loopback, /no numeric id/);
  });

  test("a reply to no request in flight closes the channel", async (t) => {
    const loopback = await open(t);
    const reply = loopback.channel.request({ op: "ping" }, pingReply);
    const { id } = await loopback.container.nextRequest();
    await loopback.container.send(dockerFrame("stdout", line({ id: id + 1, ok: true, python: "3.11.2" })));
    await assert.rejects(reply, isViolation(new RegExp(`a reply to no request in flight \\(id ${id + 1}\\)`)));
    await assertClosedBy(loopback, /no request in flight/);
  });

  test("a reply of the wrong shape for its request closes the channel", async (t) => {
    const loopback = await open(t);
    // With a time limit, so a request the violation forgot fails here instead of hanging.
    const reply = loopback.channel.request({ op: "ping" }, pingReply, 10_000);
    const { id } = await loopback.container.nextRequest();
    await loopback.container.send(dockerFrame("stdout", line({ id, ok: true, python: 5 })));
    await assert.rejects(reply, isViolation(/a reply of the wrong shape \(python: /));
    await assertClosedBy(loopback, /wrong shape/);
  });

  test("ok: false rejects that request with the runner's fault, and the channel stays open", async (t) => {
    const { channel, container, log } = await open(t);
    const failing = channel.request({ op: "ping" }, pingReply);
    const { id } = await container.nextRequest();
    await container.send(dockerFrame("stdout", line({ id, ok: false, fault: "no such operation" })));
    await assert.rejects(failing, (error: unknown) => error instanceof RunnerFaultError && error.fault === "no such operation");
    assert.equal(channel.closed, false);
    const next = channel.request({ op: "ping" }, pingReply);
    await container.send(dockerFrame("stdout", line({ id: (await container.nextRequest()).id, ok: true, python: "3.11.2" })));
    assert.deepEqual(await next, { ok: true, python: "3.11.2" });
    assert.equal(log.lines().some((entry) => entry["msg"] === "runner broke the protocol; its session is restarted"), false);
  });

  test("diagnostics are logged up to the cap, the rest counted, and replies still read", async (t) => {
    const { channel, container, log } = await open(t);
    // 300 bytes in three frames, a reply's frames between them.
    const reply = channel.request({ op: "ping" }, pingReply);
    const { id } = await container.nextRequest();
    const bytes = line({ id, ok: true, python: "3.11.2" });
    await container.sendPieces([
      dockerFrame("stderr", "a".repeat(60)),
      dockerFrame("stdout", bytes.subarray(0, 10)),
      dockerFrame("stderr", "b".repeat(60)),
      dockerFrame("stdout", bytes.subarray(10)),
      dockerFrame("stderr", "c".repeat(180)),
    ]);
    assert.deepEqual(await reply, { ok: true, python: "3.11.2" });
    const logged = log.lines().filter((entry) => entry["msg"] === "runner wrote to stderr").map((entry) => String(entry["runnerStderr"]));
    assert.deepEqual(logged, ["a".repeat(60), "b".repeat(40)]);
    assert.equal(channel.closed, false);
    channel.close();
    const dropped = log.lines().find((entry) => entry["msg"] === "runner stderr over the log cap was dropped");
    assert.equal(dropped?.["droppedBytes"], 200);
  });

  test("diagnostics past their bound close the channel", async (t) => {
    const loopback = await open(t);
    const reply = loopback.channel.request({ op: "ping" }, pingReply);
    await loopback.container.nextRequest();
    await loopback.container.send(dockerFrame("stderr", "d".repeat(1000)));
    assert.equal(loopback.channel.closed, false, "exactly the bound is allowed");
    const rejected = assert.rejects(reply, isViolation(/more than 1000 bytes on its diagnostics stream/));
    await loopback.container.send(dockerFrame("stderr", "d"));
    await rejected;
    await assertClosedBy(loopback, /diagnostics stream/);
    const logged = loopback.log.lines().filter((entry) => entry["msg"] === "runner wrote to stderr").reduce((sum, entry) => sum + String(entry["runnerStderr"]).length, 0);
    assert.equal(logged, 100);
  });

  test("a request not answered in time rejects; a late answer is then a reply to no request", async (t) => {
    const loopback = await open(t);
    const late = loopback.channel.request({ op: "ping" }, pingReply, 100);
    const { id } = await loopback.container.nextRequest();
    await assert.rejects(late, (error: unknown) => error instanceof ChannelTimeoutError && /within 100 ms/.test(error.message));
    assert.equal(loopback.channel.closed, false);
    await loopback.container.send(dockerFrame("stdout", line({ id, ok: true, python: "3.11.2" })));
    await assertClosedBy(loopback, new RegExp(`no request in flight \\(id ${id}\\)`));
  });

  test("a container that hangs up closes the channel without a violation", async (t) => {
    const { channel, container, log } = await open(t);
    const reply = channel.request({ op: "ping" }, pingReply);
    await container.nextRequest();
    let told: Error | undefined;
    channel.onClose((error) => { told = error; });
    container.hangUp();
    await assert.rejects(reply, (error: unknown) => error instanceof ChannelClosedError && !(error instanceof ProtocolViolationError));
    assert.ok(told instanceof ChannelClosedError);
    assert.equal(log.lines().some((entry) => entry["msg"] === "runner broke the protocol; its session is restarted"), false);
  });
});

describe("Docker stream demuxer", () => {
  function collect(): { demuxer: DockerStreamDemuxer; received: Record<StreamName, Buffer[]>; text: (stream: StreamName) => string } {
    const received: Record<StreamName, Buffer[]> = { stdout: [], stderr: [] };
    // Copied: the demuxer hands on views of the chunk it was given.
    const demuxer = new DockerStreamDemuxer((stream, data) => void received[stream].push(Buffer.from(data)));
    return { demuxer, received, text: (stream) => Buffer.concat(received[stream]).toString("utf8") };
  }

  test("frames of both streams, delivered a byte at a time, come out whole and in order", () => {
    const { demuxer, text } = collect();
    const stream = Buffer.concat([
      dockerFrame("stdout", "hello "),
      dockerFrame("stderr", "warning: "),
      dockerFrame("stdout", ""),
      dockerFrame("stdout", "world\n"),
      dockerFrame("stderr", "careful\n"),
    ]);
    for (const byte of cut(stream, 1)) demuxer.push(Buffer.from(byte));
    assert.equal(text("stdout"), "hello world\n");
    assert.equal(text("stderr"), "warning: careful\n");
  });

  test("every way of cutting a stream in two gives the same payloads", () => {
    const stream = Buffer.concat([dockerFrame("stdout", "abc"), dockerFrame("stderr", "de"), dockerFrame("stdout", "f")]);
    for (let at = 0; at <= stream.length; at += 1) {
      const { demuxer, text } = collect();
      demuxer.push(stream.subarray(0, at));
      demuxer.push(stream.subarray(at));
      assert.deepEqual([text("stdout"), text("stderr")], ["abcf", "de"], `cut at ${at}`);
    }
  });

  test("a frame claiming a huge length is handed on piece by piece, never buffered", () => {
    const { demuxer, received } = collect();
    const header = dockerFrame("stdout", "").subarray(0, 8);
    header.writeUInt32BE(0xffffffff, 4);
    demuxer.push(header);
    demuxer.push(Buffer.from("first"));
    assert.deepEqual(received.stdout.map(String), ["first"], "passed on at once, not held for the rest of the frame");
    demuxer.push(Buffer.from("second"));
    assert.deepEqual(received.stdout.map(String), ["first", "second"]);
  });

  test("a stream type other than stderr counts as stdout, for the framing to judge", () => {
    const { demuxer, text } = collect();
    demuxer.push(Buffer.concat([dockerFrame(0, "in"), dockerFrame(7, "odd"), dockerFrame("stderr", "err")]));
    assert.equal(text("stdout"), "inodd");
    assert.equal(text("stderr"), "err");
  });
});

describe("line framer", () => {
  function collect(maxLineBytes: number): { framer: LineFramer; lines: string[]; tooLong: number[] } {
    const lines: string[] = [];
    const tooLong: number[] = [];
    const framer = new LineFramer(maxLineBytes, { line: (line) => void lines.push(line.toString("utf8")), tooLong: (bytes) => void tooLong.push(bytes) });
    return { framer, lines, tooLong };
  }

  test("lines delivered a byte at a time, and several in one chunk, come out whole", () => {
    const { framer, lines } = collect(16);
    for (const byte of cut(Buffer.from("first\nsecond\n\nthird"), 1)) framer.push(Buffer.from(byte));
    framer.push(Buffer.from("\nfourth\nfifth\n"));
    assert.deepEqual(lines, ["first", "second", "", "third", "fourth", "fifth"]);
  });

  test("a line's bytes are copied: a chunk reused after it was pushed does not change the line", () => {
    const { framer, lines } = collect(16);
    const chunk = Buffer.from("abc");
    framer.push(chunk);
    chunk.write("xyz");
    framer.push(Buffer.from("\n"));
    assert.deepEqual(lines, ["abc"]);
  });

  test("a line at the bound passes; one byte more is reported once and ends the framer", () => {
    const { framer, lines, tooLong } = collect(8);
    framer.push(Buffer.from("12345678\n"));
    assert.deepEqual(lines, ["12345678"]);
    for (const byte of cut(Buffer.from("123456789"), 1)) framer.push(Buffer.from(byte));
    assert.deepEqual(tooLong, [9]);
    framer.push(Buffer.from("\nafter\n"));
    assert.deepEqual(lines, ["12345678"], "nothing is read once the bound was crossed, the cut line included");
    assert.deepEqual(tooLong, [9], "reported once");
  });

  test("a chunk far over the bound is reported without being kept", () => {
    const { framer, lines, tooLong } = collect(8);
    framer.push(Buffer.from("ok\n"));
    framer.push(Buffer.alloc(1_000_000, "x"));
    assert.deepEqual(lines, ["ok"]);
    assert.deepEqual(tooLong, [1_000_000]);
  });

  test("stop ends the framer: a pending line is dropped", () => {
    const { framer, lines, tooLong } = collect(8);
    framer.push(Buffer.from("half"));
    framer.stop();
    framer.push(Buffer.from("\nmore\n"));
    assert.deepEqual([lines, tooLong], [[], []]);
  });
});
