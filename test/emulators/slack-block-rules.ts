/**
 * The limits Slack's Block Kit reference states for the blocks and elements
 * threadbook sends, checked as Slack checks them: a message that breaks one
 * is refused whole (`invalid_blocks`). Each rule names what it found.
 */

type Json = Record<string, unknown>;

const plainTextLimits = { header: 150, button: 75, confirmTitle: 100, confirmText: 300, confirmButton: 30 } as const;

/** The first limit the blocks break, in words; null when they keep every one. */
export function blocksBroken(blocks: readonly unknown[]): string | null {
  if (blocks.length > 50) return `${blocks.length} blocks, over Slack's 50`;
  const blockIds = new Set<string>();
  let markdownChars = 0;
  for (const [index, value] of blocks.entries()) {
    const block = value as Json;
    const where = `block ${index} (${String(block.type)})`;
    if (typeof block.block_id === "string") {
      if (block.block_id.length > 255) return `${where}: a block_id of ${block.block_id.length} characters, over Slack's 255`;
      if (blockIds.has(block.block_id)) return `${where}: the block_id ${block.block_id} twice in one message`;
      blockIds.add(block.block_id);
    }
    const broken = blockBroken(block);
    if (broken !== null) return `${where}: ${broken}`;
    if (block.type === "markdown") markdownChars += String(block.text ?? "").length;
  }
  if (markdownChars > 12_000) return `markdown blocks of ${markdownChars} characters together, over Slack's 12,000`;
  return null;
}

function blockBroken(block: Json): string | null {
  switch (block.type) {
    case "section": {
      const text = (block.text as Json | undefined)?.text;
      if (typeof text === "string" && (text.length === 0 || text.length > 3_000)) return `a section of ${text.length} characters, outside Slack's 1 to 3,000`;
      const fields = Array.isArray(block.fields) ? (block.fields as Json[]) : [];
      if (fields.length > 10) return `${fields.length} fields, over Slack's 10`;
      for (const field of fields) if (String(field.text ?? "").length > 2_000) return "a field over Slack's 2,000 characters";
      if (text === undefined && fields.length === 0) return "a section with neither text nor fields";
      return block.accessory === undefined ? null : elementBroken(block.accessory as Json);
    }
    case "header":
      return plainTextBroken(block.text, plainTextLimits.header, "a header");
    case "context":
      return Array.isArray(block.elements) && block.elements.length > 10 ? `${block.elements.length} elements, over Slack's 10` : null;
    case "actions":
    case "context_actions": {
      const elements = Array.isArray(block.elements) ? (block.elements as Json[]) : [];
      if (elements.length === 0 || elements.length > 25) return `${elements.length} elements, outside Slack's 1 to 25`;
      const actionIds = new Set<string>();
      for (const element of elements) {
        const broken = elementBroken(element);
        if (broken !== null) return broken;
        if (typeof element.action_id === "string") {
          if (actionIds.has(element.action_id)) return `the action_id ${element.action_id} twice in one block`;
          actionIds.add(element.action_id);
        }
      }
      return null;
    }
    default:
      return null;
  }
}

function elementBroken(element: Json): string | null {
  if (typeof element.action_id === "string" && element.action_id.length > 255) return `an action_id of ${element.action_id.length} characters, over Slack's 255`;
  if (element.type === "button") return buttonBroken(element);
  if (element.type === "feedback_buttons") return buttonBroken(element.positive_button as Json) ?? buttonBroken(element.negative_button as Json);
  return null;
}

function buttonBroken(button: Json | undefined): string | null {
  if (button === undefined) return "a button missing";
  const text = plainTextBroken(button.text, plainTextLimits.button, "a button's text");
  if (text !== null) return text;
  if (typeof button.value === "string" && button.value.length > 2_000) return `a button value of ${button.value.length} characters, over Slack's 2,000`;
  if (typeof button.url === "string" && button.url.length > 3_000) return "a button url over Slack's 3,000 characters";
  if (button.style !== undefined && button.style !== "primary" && button.style !== "danger") return `a button style ${String(button.style)}, not primary or danger`;
  return button.confirm === undefined ? null : confirmBroken(button.confirm as Json);
}

function confirmBroken(confirm: Json): string | null {
  return plainTextBroken(confirm.title, plainTextLimits.confirmTitle, "a confirm dialog's title")
    ?? plainTextBroken(confirm.text, plainTextLimits.confirmText, "a confirm dialog's text")
    ?? plainTextBroken(confirm.confirm, plainTextLimits.confirmButton, "a confirm dialog's confirm button")
    ?? plainTextBroken(confirm.deny, plainTextLimits.confirmButton, "a confirm dialog's deny button")
    ?? (confirm.style === undefined || confirm.style === "primary" || confirm.style === "danger" ? null : `a confirm style ${String(confirm.style)}`);
}

function plainTextBroken(value: unknown, maxChars: number, what: string): string | null {
  const text = value as Json | undefined;
  if (text?.type !== "plain_text" || typeof text.text !== "string") return `${what} that is not plain_text`;
  if (text.text.length === 0 || text.text.length > maxChars) return `${what} of ${text.text.length} characters, outside Slack's 1 to ${maxChars}`;
  return null;
}
