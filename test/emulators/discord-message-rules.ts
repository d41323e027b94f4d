/**
 * What Discord refuses in a message body, checked by the emulator so a
 * reply that Discord would reject fails its test: plain content over 2,000
 * characters; in Components V2 (flag 1 << 15) any content or embeds, text
 * displays over 4,000 characters together, more than 40 components, an
 * attachment:// reference to no uploaded file; more than 10 files; a file
 * over the upload limit. In any message: an action row with no component or
 * more than five buttons, a button without a valid style, a label over 80
 * characters, an interactive button's custom_id missing, over 100 characters
 * or used twice in the message; allowed_mentions listing over 100 users, or
 * both parsing and listing users.
 */

export const componentsV2Flag = 1 << 15;

export interface UploadedFile {
  name: string;
  data: Buffer;
  contentType: string;
}

export function messageProblems(body: Record<string, any>, files: UploadedFile[], uploadLimitBytes: number): string[] {
  const problems: string[] = [];
  const flags = Number(body.flags ?? 0);
  if (files.length > 10) problems.push(`${files.length} files: at most 10`);
  for (const file of files) if (file.data.length > uploadLimitBytes) problems.push(`file ${file.name} is ${file.data.length} bytes, over the ${uploadLimitBytes} upload limit`);
  problems.push(...interactiveProblems(body.components ?? []), ...mentionProblems(body.allowed_mentions));
  if ((flags & componentsV2Flag) === 0) {
    if (typeof body.content === "string" && body.content.length > 2000) problems.push(`content of ${body.content.length} characters: at most 2000`);
    return problems;
  }
  if (typeof body.content === "string" && body.content !== "") problems.push("content with the IsComponentsV2 flag");
  if (Array.isArray(body.embeds) && body.embeds.length > 0) problems.push("embeds with the IsComponentsV2 flag");
  let components = 0;
  let textChars = 0;
  const references: string[] = [];
  const visit = (component: any) => {
    components += 1;
    if (component.type === 10) textChars += String(component.content ?? "").length;
    if (component.type === 13) references.push(String(component.file?.url ?? ""));
    if (component.type === 12) for (const item of component.items ?? []) references.push(String(item.media?.url ?? ""));
    for (const child of component.components ?? []) visit(child);
  };
  for (const component of body.components ?? []) visit(component);
  if (components > 40) problems.push(`${components} components: at most 40`);
  if (textChars > 4000) problems.push(`${textChars} characters of text displays: at most 4000`);
  const names = new Set(files.map((file) => file.name));
  for (const reference of references) {
    if (!reference.startsWith("attachment://")) continue;
    const name = reference.slice("attachment://".length);
    if (!names.has(name)) problems.push(`${reference} names no uploaded file`);
  }
  return problems;
}

/** Action rows and buttons, wherever they are nested. */
function interactiveProblems(components: unknown[]): string[] {
  const problems: string[] = [];
  const customIds = new Set<string>();
  const visit = (component: any) => {
    if (component.type === 1) {
      const children = Array.isArray(component.components) ? component.components : [];
      if (children.length === 0 || children.length > 5) problems.push(`an action row of ${children.length} components: 1 to 5`);
    }
    if (component.type === 2) {
      const style = Number(component.style);
      if (!Number.isInteger(style) || style < 1 || style > 6) problems.push(`a button of style ${component.style}`);
      if (component.label !== undefined && String(component.label).length > 80) problems.push(`a button label of ${String(component.label).length} characters: at most 80`);
      // Link (5) and premium (6) buttons carry no custom_id; the others must.
      if (style >= 1 && style <= 4) {
        const customId = component.custom_id;
        if (typeof customId !== "string" || customId.length < 1 || customId.length > 100) problems.push(`a button custom_id of ${typeof customId === "string" ? customId.length : "no"} characters: 1 to 100`);
        else if (customIds.has(customId)) problems.push(`the custom_id ${customId} twice in one message`);
        else customIds.add(customId);
      }
    }
    for (const child of component.components ?? []) visit(child);
  };
  for (const component of components) visit(component);
  return problems;
}

function mentionProblems(allowed: any): string[] {
  if (allowed === undefined || allowed === null) return [];
  const problems: string[] = [];
  const parse: unknown[] = Array.isArray(allowed.parse) ? allowed.parse : [];
  const users: unknown[] = Array.isArray(allowed.users) ? allowed.users : [];
  if (users.length > 100) problems.push(`allowed_mentions lists ${users.length} users: at most 100`);
  if (users.length > 0 && parse.includes("users")) problems.push("allowed_mentions both parses and lists users");
  return problems;
}

/** Every text display's content in a Components V2 body, in order. */
export function textDisplays(components: unknown[]): string[] {
  const texts: string[] = [];
  const visit = (component: any) => {
    if (component.type === 10) texts.push(String(component.content));
    for (const child of component.components ?? []) visit(child);
  };
  for (const component of components) visit(component);
  return texts;
}
