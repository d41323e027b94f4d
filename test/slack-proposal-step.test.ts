/**
 * A proposal's task card text in Slack: the model's name and the core's
 * summary shown inert and within the card's bounds, however they are written.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { proposalStatus, proposalSummary, proposalSummaryChars, proposalTaskId, proposalTitle } from "../src/adapters/slack/proposal-step.ts";

test("a title names the skill in a code span the name cannot close, or says none was readable", () => {
  assert.equal(proposalTitle("fiscal-calendar"), "Propose skill `fiscal-calendar`");
  assert.equal(proposalTitle("a`b <@U1> & @here"), "Propose skill `a'b &lt;@\u200bU1&gt; &amp; @\u200bhere`");
  assert.equal(proposalTitle(null), "Propose a skill");
  assert.equal(proposalTitle("\u202e\u0007 "), "Propose a skill");
  const long = proposalTitle("x".repeat(500));
  assert.ok(long.length <= "Propose skill ``".length + 80, long);
  assert.match(long, /x…`$/);
});

test("a summary is one line within its bound, cut with an ellipsis and never inside an escape", () => {
  assert.equal(proposalSummary("version 1,\n waiting for approval"), "version 1, waiting for approval");
  // Each filler escapes to several characters; the padding moves the bound through every position inside an escape.
  for (const filler of ["<", "&", "@"]) {
    for (let padding = 0; padding < 5; padding += 1) {
      const shown = proposalSummary(`refused: ${"x".repeat(padding)}${filler.repeat(400)}`);
      assert.ok(shown.length <= proposalSummaryChars, `${filler} ${padding}: ${shown.length}`);
      assert.match(shown, /…$/);
      assert.doesNotMatch(shown, /[<>]|&(?!amp;|lt;|gt;)/, `${filler} ${padding}: ${shown.slice(-12)}`);
    }
  }
});

test("stored proposals complete, refused and failed ones are errors; ids are apart from the cells'", () => {
  assert.deepEqual((["proposed", "approved", "refused", "failed"] as const).map(proposalStatus), ["complete", "complete", "error", "error"]);
  assert.equal(proposalTaskId(1), "proposal-1");
});
