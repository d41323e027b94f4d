/** Discord's conversation keys: what `conversationKey` makes parses back; anything else does not. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { conversationKey, parseConversationKey } from "../src/adapters/discord/conversation.ts";

const guild = "123456789012345678";
const channel = "234567890123456789";

test("a key made for a thread or a DM parses back to its guild and channel", () => {
  assert.deepEqual(parseConversationKey(conversationKey(guild, channel)), { guildId: guild, channelId: channel });
  assert.deepEqual(parseConversationKey(conversationKey(null, channel)), { guildId: null, channelId: channel });
});

test("any other key does not parse", () => {
  for (const key of [
    `slack:T1:C1:1700000000.000100`,
    `discord:${guild}`,
    `discord:${guild}:${channel}:extra`,
    `discord:dm:not-a-channel`,
    `discord:DM:${channel}`,
    `discord:${guild}:12345`,
    `discord:${guild}:0${channel.slice(1)}`,
    `discord:${guild}:${channel}1234`,
    `discord:../${guild}:${channel}`,
    `discord:${guild}:${channel}\n`,
    ` discord:${guild}:${channel}`,
    "",
  ]) {
    assert.equal(parseConversationKey(key), null, JSON.stringify(key));
  }
});
