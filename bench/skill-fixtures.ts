/**
 * Twenty skills as a team would approve them, for the skill figures: each a
 * SKILL.md (front matter with a one- or two-sentence description, then a body
 * of a few hundred bytes on how to use it) and one or two `scripts/<stem>.py`
 * of a few KB that compile and import. Written as folders so the real
 * `SkillLibrary.importPath` validates and stores them.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface BenchScript {
  stem: string;
  /** The function a user calls, e.g. "fiscal_period". */
  entry: string;
  /** What the function does, for its docstring and the SKILL.md body. */
  purpose: string;
}

export interface BenchSkill {
  name: string;
  description: string;
  scripts: BenchScript[];
}

export const BENCH_SKILLS: readonly BenchSkill[] = [
  { name: "fiscal-calendar", description: "Maps dates to the company's fiscal year, quarter and week (the fiscal year starts on 1 February). Use it whenever a question mentions fiscal periods, FY, or quarter-to-date figures.", scripts: [{ stem: "fiscal_calendar", entry: "fiscal_period", purpose: "adds fiscal_year, fiscal_quarter and fiscal_week columns for a date column" }] },
  { name: "revenue-recognition", description: "Spreads annual and multi-year contract values into monthly recognized revenue following the finance team's straight-line policy. Use it for MRR, ARR or deferred-revenue questions from the contracts export.", scripts: [{ stem: "revenue_schedule", entry: "monthly_schedule", purpose: "returns one row per contract and month with the revenue recognized in it" }] },
  { name: "currency-conversion", description: "Converts amounts between currencies with the month-end rates finance publishes in fx_rates.csv. Use it before summing or comparing money columns that mix currencies.", scripts: [{ stem: "fx_rates", entry: "load_rates", purpose: "reads fx_rates.csv into a table of month, currency and rate to EUR" }, { stem: "fx_convert", entry: "convert", purpose: "converts an amount column to a target currency at each row's month-end rate" }] },
  { name: "churn-cohorts", description: "Builds monthly signup cohorts and their retention or churn curves from a table of customer subscriptions. Use it when asked about retention, churn, or how a cohort behaved over time.", scripts: [{ stem: "cohorts", entry: "retention_table", purpose: "returns the share of each signup cohort still active N months later" }] },
  { name: "sales-territories", description: "Assigns accounts to sales regions and territories by country, state and company size, using the current territory map. Use it for any breakdown by region, territory or account owner.", scripts: [{ stem: "territories", entry: "assign_territory", purpose: "adds region, territory and owner columns to a table of accounts" }] },
  { name: "survey-likert", description: "Cleans survey exports with Likert-scale answers, computes top-box scores and NPS, and draws diverging bar charts. Use it for employee or customer survey results.", scripts: [{ stem: "likert", entry: "top_box_scores", purpose: "maps answer labels to 1 to 5 and returns top-box and bottom-box shares per question" }] },
  { name: "ab-test-analysis", description: "Compares conversion rates between experiment variants with confidence intervals, a two-proportion test and a sample-size check. Use it to read out A/B tests from the experiments table.", scripts: [{ stem: "ab_test", entry: "compare_variants", purpose: "returns each variant's conversion rate, its lift over control, a 95% interval and the p-value" }, { stem: "power", entry: "required_sample_size", purpose: "returns the visitors a variant needs to detect a given lift at 80% power" }] },
  { name: "support-tickets", description: "Parses helpdesk ticket exports, computes first-response and resolution times within business hours, and flags SLA breaches. Use it for support volume, SLA or backlog questions.", scripts: [{ stem: "tickets", entry: "ticket_times", purpose: "adds first_response_hours, resolution_hours and sla_breached columns" }] },
  { name: "inventory-forecast", description: "Forecasts weekly demand per SKU with seasonal exponential smoothing and suggests reorder points from lead times. Use it when asked about stock levels, stockouts or what to reorder.", scripts: [{ stem: "inventory", entry: "reorder_points", purpose: "forecasts demand per SKU and returns the reorder point and quantity for each" }] },
  { name: "payroll-export", description: "Reads the payroll provider's CSV export, normalises pay components and cost centres, and totals employer cost by department. Use it for headcount cost or payroll variance questions.", scripts: [{ stem: "payroll", entry: "employer_cost", purpose: "returns gross pay, employer taxes and benefits per employee and department" }] },
  { name: "web-analytics", description: "Turns raw page-view events into sessions with a 30-minute timeout and builds step-by-step conversion funnels. Use it for traffic, bounce-rate or funnel questions from the events export.", scripts: [{ stem: "sessions", entry: "sessionize", purpose: "assigns a session id to each event, a new session after 30 minutes idle" }, { stem: "funnels", entry: "funnel", purpose: "counts the sessions reaching each step of an ordered list of pages" }] },
  { name: "invoice-aging", description: "Buckets open invoices into 0-30, 31-60, 61-90 and 90+ days overdue and totals them by customer. Use it for accounts receivable, DSO or collections questions.", scripts: [{ stem: "aging", entry: "aging_buckets", purpose: "returns open amounts per customer and overdue bucket as of a date" }] },
  { name: "geo-lookup", description: "Resolves postcodes and city names to regions and coordinates using the bundled reference table, and draws simple point maps. Use it when data has addresses or postcodes and the question is about where.", scripts: [{ stem: "postcodes", entry: "locate", purpose: "adds region, latitude and longitude columns for a postcode or city column" }] },
  { name: "price-elasticity", description: "Estimates price elasticity of demand per product with a log-log regression over price changes, with confidence intervals. Use it when asked how volume responds to price or what a price change would do.", scripts: [{ stem: "elasticity", entry: "estimate_elasticity", purpose: "fits log(quantity) on log(price) per product and returns the slope and its interval" }] },
  { name: "okr-tracking", description: "Reads the quarterly OKR sheet, scores key results on the 0 to 1 scale and rolls them up per team and objective. Use it for questions about goal progress or OKR status.", scripts: [{ stem: "okrs", entry: "score_okrs", purpose: "scores each key result from its start, target and current values and averages them per objective" }] },
  { name: "log-parsing", description: "Parses nginx and application log lines into a table of timestamp, status, path, latency and user agent. Use it for error rates, slow endpoints or traffic patterns from attached log files.", scripts: [{ stem: "access_logs", entry: "parse_access_log", purpose: "reads an nginx combined log file into a table, one row a request" }] },
  { name: "marketing-attribution", description: "Assigns conversion credit across marketing touchpoints with first-touch, last-touch, linear and time-decay models. Use it for questions about which channels or campaigns drive signups.", scripts: [{ stem: "attribution", entry: "attribute", purpose: "returns the conversions credited to each channel under the chosen model" }] },
  { name: "holiday-calendar", description: "Lists public holidays for the countries the company operates in and counts business days between dates. Use it for working-day calculations, SLAs across holidays or staffing plans.", scripts: [{ stem: "holidays", entry: "business_days", purpose: "counts the working days between two date columns, holidays of the row's country excluded" }] },
  { name: "unit-economics", description: "Computes CAC, LTV, payback period and gross margin per customer segment from the finance and CRM exports. Use it for unit-economics or customer profitability questions.", scripts: [{ stem: "unit_economics", entry: "segment_economics", purpose: "returns CAC, LTV, LTV/CAC and payback months per segment" }] },
  { name: "data-quality-report", description: "Profiles a table's columns for missing values, duplicates, outliers and unexpected types, and writes a short report. Use it first on any unfamiliar or messy file a user attaches.", scripts: [{ stem: "data_quality", entry: "profile", purpose: "returns one row per column with its type, missing share, distinct count and outlier count" }] },
];

/** SKILL.md after its front matter: what the model reads when it opens the skill, never in its instructions. */
export function skillBody(skill: BenchSkill): string {
  const title = skill.name.split("-").map((word) => word[0]!.toUpperCase() + word.slice(1)).join(" ");
  const functions = skill.scripts.map((script) => `- \`from skills.${script.stem} import ${script.entry}\`: ${script.entry}(frame, ...) ${script.purpose}.`);
  return `# ${title}

${functions.join("\n")}

Every function takes a pandas DataFrame and returns a new one; the input is never changed. Column names are matched case-insensitively after stripping spaces, and a missing column raises a KeyError naming it. Check the result's shape and a few rows before using it in an answer, and say in the reply which skill produced the figures.
`;
}

export function skillManifest(skill: BenchSkill): string {
  return `---\nname: ${skill.name}\ndescription: ${JSON.stringify(skill.description)}\n---\n${skillBody(skill)}`;
}

/** A module of a few KB: the entry function over the shared column helpers a team's scripts tend to carry. */
export function skillScript(skill: BenchSkill, script: BenchScript): string {
  return `"""${skill.name}: ${script.purpose}.

Part of the approved skill ${skill.name}; see /skills/${skill.name}/SKILL.md.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Iterable

import pandas as pd

__all__ = ["${script.entry}", "normalise_columns", "require_columns"]

_SPACES = re.compile(r"\\s+")


def _clean_name(name: object) -> str:
    """Lower case, spaces and dashes to underscores, surrounding space removed."""
    text = _SPACES.sub("_", str(name).strip().lower())
    return text.replace("-", "_")


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with cleaned column names; refuses two columns that clean to one name."""
    cleaned = [_clean_name(column) for column in frame.columns]
    seen: dict[str, int] = {}
    for index, name in enumerate(cleaned):
        if name in seen:
            raise ValueError(f"columns {frame.columns[seen[name]]!r} and {frame.columns[index]!r} both clean to {name!r}")
        seen[name] = index
    result = frame.copy()
    result.columns = cleaned
    return result


def require_columns(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """The frame with cleaned names, or a KeyError naming the first column it lacks."""
    result = normalise_columns(frame)
    for column in columns:
        if _clean_name(column) not in result.columns:
            raise KeyError(f"${skill.name} needs a column named {column!r}; the table has {list(frame.columns)!r}")
    return result


def _to_date(value: object) -> date | None:
    """A date from a date, a datetime, an ISO string or a day-first string; None for blanks."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if text == "":
        return None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"cannot read {text!r} as a date")


def _to_number(value: object) -> float:
    """A float from numbers and strings such as '1,234.50', '(12.00)' or '15%'; NaN for blanks."""
    if value is None:
        return math.nan
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(",", "").replace(" ", "")
    if text in ("", "-", "n/a", "N/A"):
        return math.nan
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    percent = text.endswith("%")
    number = float(text.rstrip("%"))
    if percent:
        number /= 100
    return -number if negative else number


def _coerce(frame: pd.DataFrame, numbers: Iterable[str] = (), dates: Iterable[str] = ()) -> pd.DataFrame:
    """Numbers and dates parsed in the named columns, in place on a copy."""
    result = frame.copy()
    for column in numbers:
        result[column] = result[column].map(_to_number)
    for column in dates:
        result[column] = pd.to_datetime(result[column].map(_to_date))
    return result


def _summary(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Count, total, mean and median of value per group, largest total first."""
    grouped = frame.groupby(by, dropna=False)[value]
    table = grouped.agg(["count", "sum", "mean", "median"]).reset_index()
    return table.sort_values("sum", ascending=False, ignore_index=True)


def ${script.entry}(frame: pd.DataFrame, column: str = "value", by: list[str] | None = None) -> pd.DataFrame:
    """${script.purpose[0]!.toUpperCase()}${script.purpose.slice(1)}.

    frame: the table to work on; it is not changed.
    column: the column holding the figures, matched after cleaning its name.
    by: columns to group by; none gives one row for the whole table.
    """
    table = require_columns(frame, [column, *(by or [])])
    table = _coerce(table, numbers=[_clean_name(column)])
    groups = [_clean_name(name) for name in by or []]
    if not groups:
        table["all"] = "all"
        groups = ["all"]
    return _summary(table, groups, _clean_name(column))
`;
}

/** Writes each skill as `<directory>/<name>/` (SKILL.md and scripts/), for `SkillLibrary.importPath(directory, ...)`. */
export async function writeBenchSkills(directory: string): Promise<void> {
  for (const skill of BENCH_SKILLS) {
    const folder = join(directory, skill.name);
    await mkdir(join(folder, "scripts"), { recursive: true });
    await writeFile(join(folder, "SKILL.md"), skillManifest(skill));
    for (const script of skill.scripts) await writeFile(join(folder, "scripts", `${script.stem}.py`), skillScript(skill, script));
  }
}
