// bench/duckdb_session.cjs — a DuckDB session (SET threads=1) that a
// benchmark drives step by step, so that its runs can be interleaved with
// ours (A B A B ...) and every ratio compares runs made side by side.
//
// Protocol: one JSON object per line on stdin, {"name": "...", "sql": "..."}
// (optionally "rows": true to return the result rows); one JSON line per step
// on stdout: {"name": ..., "s": wall seconds, "cpu": CPU seconds of this
// process (DuckDB runs in-process, one thread), "rows": [...] if asked} or
// {"name": ..., "error": "..."}.  EOF ends the session.
// NODE_PATH must point at tests/.node/node_modules.
const readline = require('readline');
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await conn.run('SET threads=1');
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const step = JSON.parse(line);
    const out = { name: step.name };
    try {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const reader = await conn.runAndReadAll(step.sql);
      const t1 = process.hrtime.bigint();
      const c1 = process.cpuUsage(c0);
      out.s = Number(t1 - t0) / 1e9;
      out.cpu = (c1.user + c1.system) / 1e6;
      if (step.rows) out.rows = reader.getRowObjectsJson();
    } catch (e) {
      out.error = String((e && e.message) || e);
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
}
main().catch((e) => { console.error(String((e && e.message) || e)); process.exit(1); });
