/**
 * What Discord refuses in a message body, checked by the emulator so a
 * reply that Discord would reject fails its test: plain content over 2,000
 * characters; in Components V2 (flag 1 << 15) any content or embeds, text
 * displays over 4,000 characters together, more than 40 components, an
 * attachment:// reference to no uploaded file; more than 10 files; a file
 * over the upload limit.
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
