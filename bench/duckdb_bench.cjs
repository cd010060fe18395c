// bench/duckdb_bench.cjs — run a list of SQL steps in one DuckDB connection
// (SET threads=1) and report how long each took.  argv[2] is a JSON file:
//   [{"name": "load", "sql": "..."}, ...]
// Output: one JSON object {"load": {"s": 1.23, "cpu": 1.20, "rows": [...]},
// ...}: wall seconds, CPU seconds of this process (DuckDB runs in-process,
// one thread), and the step's result rows (JSON-friendly).
// NODE_PATH must point at tests/.node/node_modules (bench/run-bench sets it).
const fs = require('fs');
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const steps = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await conn.run('SET threads=1');
  const out = {};
  for (const step of steps) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const reader = await conn.runAndReadAll(step.sql);
    const t1 = process.hrtime.bigint();
    const c1 = process.cpuUsage(c0);
    out[step.name] = {
      s: Number(t1 - t0) / 1e9,
      cpu: (c1.user + c1.system) / 1e6,
      rows: reader.getRowObjectsJson(),
    };
  }
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
