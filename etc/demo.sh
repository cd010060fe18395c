#!/bin/sh
# etc/demo.sh — `make demo`: stratad governing a table while a writer works.
#
# 1. creates ./var/warehouse with a table `demo` (4 buckets);
# 2. writes ./var/stratad.ini from etc/stratad.ini with short delays, so
#    sorts, merges, partial compactions and cleans happen within a minute;
# 3. starts stratad (log: ./var/stratad.log) and a writer that upserts and
#    deletes random keys a few times a second for DEMO_SECONDS (60);
# 4. every 5 seconds shows `strata admin status`: files per level, row files
#    waiting, history and trash bytes, recent jobs;
# 5. stops the writer, lets the daemon settle, stops it cleanly (SIGTERM)
#    and prints where to look next.
#
# Everything stays under ./var; run it again to start afresh.
set -eu
cd "$(dirname "$0")/.."
B=${STRATA_BUILD:-build}
STRATA="$PWD/$B/strata"
STRATAD="$PWD/$B/stratad"
VAR="$PWD/var"
WH="$VAR/warehouse"
RUN="$VAR/run"
SOCK="$RUN/admin.sock"
CFG="$VAR/stratad.ini"
LOG="$VAR/stratad.log"
PIDFILE="$VAR/stratad.pid"
SECONDS_TOTAL=${DEMO_SECONDS:-60}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
admin() { "$STRATA" admin --socket "$SOCK" "$@"; }

[ -x "$STRATA" ] && [ -x "$STRATAD" ] || { echo "demo: build first (make)"; exit 1; }

# a daemon left by an interrupted demo (ours: its pid is in our pid file)
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
	kill -TERM "$(cat "$PIDFILE")" 2>/dev/null || true
	sleep 1
fi
rm -rf "$WH" "$RUN" "$PIDFILE" "$LOG"
mkdir -p "$VAR"

say "a warehouse in $WH with a table 'demo'"
"$STRATA" -W "$WH" init
"$STRATA" -W "$WH" create-table demo \
	--columns 'id BIGINT NOT NULL PRIMARY KEY, name STRING, amount DOUBLE' \
	--property write.bucket.num=4 --property acid.data.retain.hours=1

say "the demo config: etc/stratad.ini with short delays -> $CFG"
# [daemon] keys anywhere; [policy] keys only inside [policy] (the commented
# [table.NAME] example below it stays commented)
sed -e "s|^warehouse = .*|warehouse = $WH|" \
    -e "s|^socket = .*|socket = $SOCK|" \
    -e "s|^#scan_interval_s = .*|scan_interval_s = 2|" \
    -e "s|^#workers = .*|workers = 2|" \
    -e "/^\[policy\]/,/^# \[table.NAME\]/{
	s|^#sort.min_files = .*|sort.min_files = 4|
	s|^#sort.max_delay_s = .*|sort.max_delay_s = 10|
	s|^#merge.fanout = .*|merge.fanout = 4|
	s|^#clean.grace_s = .*|clean.grace_s = 5|
	s|^#clean.trash_s = .*|clean.trash_s = 30|
	s|^#policy.backoff_s = .*|policy.backoff_s = 1|
    }" \
    etc/stratad.ini > "$CFG"
cat >> "$CFG" <<'EOF'

# The demo table keeps no history for time travel (retention 0 hours), so
# partial compaction drops superseded records within the minute; real tables
# keep hours of history.
[table.demo]
acid.data.retain.hours = 0
compact.min_garbage_ratio = 0.2
EOF
grep -E '^[a-z].* = ' "$CFG" | sed 's/^/    /'
"$STRATAD" --check-config "$CFG"

say "starting stratad (log: $LOG)"
"$STRATAD" --config "$CFG" >>"$LOG" 2>&1 &
echo $! > "$PIDFILE"
DPID=$(cat "$PIDFILE")
WPID=""
cleanup() {
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null || true
	if kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
i=0
until admin --json status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$DPID" 2>/dev/null; then
		echo "demo: stratad did not come up; its log:"; cat "$LOG"; exit 1
	fi
	sleep 0.1
done
echo "stratad pid $DPID is up; socket $SOCK"

say "a writer upserts and deletes random keys for $SECONDS_TOTAL s"
(
	n=0
	end=$(( $(date +%s) + SECONDS_TOTAL ))
	while [ "$(date +%s)" -lt "$end" ]; do
		n=$((n + 1))
		awk -v seed="$n" 'BEGIN {
			srand(seed)
			for (k = 0; k < 200; k++) {
				id = int(rand() * 2000)
				if (rand() < 0.1)
					printf "{\"id\":%d,\"_op\":\"delete\"}\n", id
				else
					printf "{\"id\":%d,\"name\":\"user%d\",\"amount\":%.2f}\n", id, id, rand() * 1000
			}
		}' | "$STRATA" -W "$WH" write demo >/dev/null
		sleep 0.3
	done
) &
WPID=$!

start=$(date +%s)
while kill -0 "$WPID" 2>/dev/null; do
	sleep 5
	say "t+$(( $(date +%s) - start )) s: strata admin status"
	admin --text status || true
done
WPID=""

say "the writer stopped; the daemon settles"
sleep 12
admin --text status
say "strata admin plan demo (what would run now, and why)"
admin --text plan demo | head -24
say "strata admin policy demo (effective values and their sources)"
admin --text policy demo

say "stopping stratad (SIGTERM: running jobs stop at their next block)"
kill -TERM "$DPID"
wait "$DPID" && echo "stratad exited with status 0"
rm -f "$PIDFILE"
trap - EXIT

say "where to look next"
cat <<EOF
  - the daemon's log, one line per scan and per job:   $LOG
  - the table it governed:   $STRATA -W $WH describe demo
                             $STRATA -W $WH log demo --limit 20
                             $STRATA -W $WH files demo
  - run it yourself:         $STRATAD --config $CFG &
                             $STRATA admin --socket $SOCK status | jobs | plan demo | watch
  - every config key:        etc/stratad.ini  (stratad --sample-config)
  - operating it:            docs/OPERATIONS.md (install, systemd, admin commands,
                             metrics, troubleshooting)
EOF
