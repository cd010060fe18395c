// duckdb/session.cjs — run SQL statements (one per line on stdin; lines
// starting with "--" are echoed as comments) in an in-memory DuckDB with
// unsigned extensions allowed, printing each statement after a "D " prompt
// and its result as a small table: the sessions in docs/DUCKDB.md are made
// with it.  NODE_PATH must point at tests/.node/node_modules.
const readline = require('readline');
const { DuckDBInstance } = require('@duckdb/node-api');

function table(cols, rows) {
  const cells = rows.map((r) => r.map((v) => (v === null ? 'NULL' : String(v))));
  const w = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = '+' + w.map((x) => '-'.repeat(x + 2)).join('+') + '+';
  const fmt = (r) => '| ' + r.map((v, i) => v.padEnd(w[i])).join(' | ') + ' |';
  return [line, fmt(cols), line, ...cells.map(fmt), line].join('\n');
}

async function main() {
  const inst = await DuckDBInstance.create(':memory:', { allow_unsigned_extensions: 'true' });
  const conn = await inst.connect();
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    const sql = line.trim();
    if (!sql) continue;
    if (sql.startsWith('--')) { console.log(sql); continue; }
    console.log('D ' + sql);
    try {
      const reader = await conn.runAndReadAll(sql);
      const cols = reader.columnNames();
      if (cols.length && !/^(LOAD|SET)\b/i.test(sql))
        console.log(table(cols, reader.getRowsJson()));
    } catch (e) {
      console.log('Error: ' + String(e && e.message || e).split('\n')[0]);
    }
  }
}
main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
