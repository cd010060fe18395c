// tests/duckdb_query.cjs — run the SQL in argv[2] (a file) in DuckDB with one
// thread and print every result row as a JSON line.  The conformance oracle
// for our Parquet files; NODE_PATH must point at tests/.node/node_modules.
const fs = require('fs');
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const sql = fs.readFileSync(process.argv[2], 'utf8');
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  await conn.run('SET threads=1');
  const stmts = sql.split(/;\s*\n/).map((s) => s.trim()).filter((s) => s.length);
  for (const s of stmts) {
    const reader = await conn.runAndReadAll(s);
    for (const row of reader.getRowObjectsJson()) {
      console.log(JSON.stringify(row));
    }
  }
}
main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
