/** A file's media type from its name, so uploads are typed and platforms show previews. */
const byExtension: Record<string, string> = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", svg: "image/svg+xml",
  pdf: "application/pdf", csv: "text/csv", tsv: "text/tab-separated-values", txt: "text/plain", md: "text/markdown",
  json: "application/json", jsonl: "application/jsonl", html: "text/html", xml: "application/xml", py: "text/x-python",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xls: "application/vnd.ms-excel",
  ods: "application/vnd.oasis.opendocument.spreadsheet", parquet: "application/vnd.apache.parquet",
  zip: "application/zip", gz: "application/gzip",
};

export function mediaTypeOf(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 && byExtension[name.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}
