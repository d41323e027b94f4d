/**
 * A strict reader of Prometheus' text exposition format (version 0.0.4), for
 * tests: every sample must belong to a family declared by `# HELP` and
 * `# TYPE` before it (a histogram's as `_bucket`, `_sum` and `_count`),
 * labels must be well formed and escaped, values numbers; and a histogram's
 * buckets must rise with `le` and end in `+Inf`, equal to its `_count`.
 * Anything else throws, naming the line.
 */

export interface Sample {
  /** The sample's own name, e.g. "threadbook_cell_duration_seconds_bucket". */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition does not end with a newline");
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === "") return;
    if (line.startsWith("# HELP ")) {
      const [, name = "", help = ""] = /^# HELP (\S+) ?(.*)$/.exec(line) ?? [];
      if (!metricName.test(name) || families.has(name)) throw new Error(`${where}: a HELP for a bad or repeated name`);
      current = { name, help, type: "untyped", samples: [] };
      families.set(name, current);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const [, name = "", type = ""] = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line) ?? [];
      if (current === undefined || current.name !== name || current.samples.length > 0) throw new Error(`${where}: a TYPE not right after its HELP`);
      current.type = type as Family["type"];
      return;
    }
    if (line.startsWith("#")) return;
    const sample = parseSample(line, where);
    if (current === undefined || !belongs(sample.name, current)) throw new Error(`${where}: a sample of no declared family`);
    current.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

function belongs(name: string, family: Family): boolean {
  if (family.type === "histogram") return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`].includes(name);
  if (family.type === "summary") return [family.name, `${family.name}_sum`, `${family.name}_count`].includes(name);
  return name === family.name;
}

function parseSample(line: string, where: string): Sample {
  const nameEnd = line.search(/[{ ]/);
  if (nameEnd <= 0) throw new Error(`${where}: no sample name`);
  const name = line.slice(0, nameEnd);
  if (!metricName.test(name)) throw new Error(`${where}: a bad metric name`);
  const labels: Record<string, string> = {};
  let rest = line.slice(nameEnd);
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const match = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
      if (match === null) throw new Error(`${where}: a malformed label`);
      const [whole, key = "", raw = "", comma] = match;
      if (!labelName.test(key) || key in labels) throw new Error(`${where}: a bad or repeated label ${key}`);
      labels[key] = raw.replace(/\\(["\\n])/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped));
      rest = rest.slice(whole.length);
      if (comma === "" && !rest.startsWith("}")) throw new Error(`${where}: labels not separated by commas`);
    }
    rest = rest.slice(1);
  }
  const [, valueText = "", timestamp] = /^ (\S+)(?: (-?\d+))?$/.exec(rest) ?? [];
  // As Prometheus reads it (Go's ParseFloat): NaN and Inf in any case.
  const special: Record<string, number> = { nan: Number.NaN, "+inf": Infinity, inf: Infinity, "-inf": -Infinity };
  const value = special[valueText.toLowerCase()] ?? Number(valueText);
  if (valueText === "" || (Number.isNaN(value) && valueText.toLowerCase() !== "nan")) throw new Error(`${where}: a value that is no number`);
  void timestamp;
  return { name, labels, value };
}

function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).filter(([key]) => key !== "le").sort());
  for (const sample of family.samples) {
    const entry = series.get(keyOf(sample.labels)) ?? { buckets: [] };
    series.set(keyOf(sample.labels), entry);
    if (sample.name.endsWith("_bucket")) {
      const le = sample.labels["le"];
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([le === "+Inf" ? Infinity : Number(le), sample.value]);
    } else if (sample.name.endsWith("_count")) {
      entry.count = sample.value;
    }
  }
  for (const [key, { buckets, count }] of series) {
    for (let index = 1; index < buckets.length; index += 1) {
      const [bound, value] = buckets[index] as [number, number];
      const [previousBound, previousValue] = buckets[index - 1] as [number, number];
      if (!(bound > previousBound) || value < previousValue) throw new Error(`${family.name} ${key}: buckets do not rise with le`);
    }
    const last = buckets.at(-1);
    if (last === undefined || last[0] !== Infinity || last[1] !== count) throw new Error(`${family.name} ${key}: no +Inf bucket equal to _count`);
  }
}

/** The value of the family's sample (of `name`, the family's own by default) whose labels include `labels`; throws when there is none. */
export function sampleValue(families: Map<string, Family>, family: string, labels: Record<string, string>, name = family): number {
  const found = families.get(family)?.samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (found === undefined) throw new Error(`no ${name} sample labelled ${JSON.stringify(labels)}`);
  return found.value;
}
