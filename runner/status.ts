/**
 * `status`: what is declared, by runbook step; the Jobs and their state; the times so far; and
 * the command that comes next. Changes nothing.
 */
import { formatLondon } from "../contract/time";
import { valueOf } from "./door";
import { declaredBySteps, Gathered, gather, jobLines, nextStep, timeline } from "./facts";
import { Session } from "./session";

export async function status(s: Session, json: boolean): Promise<void> {
  const g = await gather(s);
  const { phase, next } = nextStep(g);
  const t = timeline(g);
  if (json) {
    s.io.out(
      JSON.stringify(
        {
          stack: g.stack,
          backend: g.backend,
          scenario: g.scenario,
          appliedScenario: g.appliedScenario,
          phase,
          next,
          pending: g.pending,
          incident: incidentConfig(g),
          declared: declaredBySteps(g.resources),
          jobs: g.jobs,
          timeline: t,
          notes: g.notes,
        },
        null,
        2,
      ),
    );
    return;
  }
  const lines = [`pg-recovery status: stack ${g.stack} (${g.backend})`];
  const cfg = incidentConfig(g);
  if (g.scenario !== "none") {
    const rt = cfg.restoreTime ? restoreText(cfg.restoreTime) : undefined;
    lines.push(
      `Incident: ${g.scenario}, incident date ${cfg.incidentDate ?? "unset"}${rt ? `; restore to ${rt}` : ""}`,
    );
  }
  lines.push(`Phase: ${phase}`);
  const declared = declaredBySteps(g.resources);
  lines.push(
    `Declared: ${g.resources.filter((r) => !r.type.includes(":index:")).length} resource(s)`,
  );
  for (const d of declared) lines.push(`  ${d.step}: ${d.items.join(", ")}`);
  if (g.jobs.length) {
    lines.push("Jobs:");
    for (const j of jobLines(g)) lines.push(`  ${j}`);
  }
  if (t.length) {
    lines.push("Times so far (UTC | Europe/London):");
    for (const e of t) lines.push(`  ${e.utc} | ${e.london} | ${e.who ?? "?"} | ${e.event}`);
  }
  for (const n of g.notes) lines.push(`Note: ${n}`);
  lines.push(`Next: ${next}`);
  s.io.out(lines.join("\n"));
}

export function incidentConfig(g: Gathered): Record<string, string | undefined> {
  return {
    scenario: g.scenario,
    incidentDate: valueOf(g.config, "incidentDate"),
    restoreTime: valueOf(g.config, "restoreTime"),
    serverDeletedAt: valueOf(g.config, "serverDeletedAt"),
    scaleDown: valueOf(g.config, "scaleDown"),
    promote: valueOf(g.config, "promote"),
    promotionMode: valueOf(g.config, "promotionMode"),
    promotionTables: valueOf(g.config, "promotionTables"),
  };
}

function restoreText(text: string): string {
  const d = new Date(text);
  return Number.isNaN(d.getTime())
    ? text
    : `${d.toISOString().replace(/\.000Z$/, "Z")} = ${formatLondon(d)}`;
}
