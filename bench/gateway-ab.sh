#!/usr/bin/env bash
# A/B of two gateway builds on one simulator, saturated with wrk, rounds alternating, with each
# gateway's CPU per request from /proc. BASE is a checkout of the other build (with node_modules):
#   git worktree add --detach /tmp/base 9621108 && ln -s "$PWD/node_modules" /tmp/base/node_modules
#   BASE=/tmp/base ROUNDS=4 bash bench/gateway-ab.sh
# STREAMS=200 does the same with that many concurrent streams (closed loop) of a model with a 50 ms
# time to first token and 16 tokens 20 ms apart, as the bench's streaming part: CPU per stream, and
# per SSE event (the events of one stream counted once with curl).
set -e
trap 'kill $A $B $S 2>/dev/null' EXIT
BASE=${BASE:?set BASE to the other checkout}
ROUNDS=${ROUNDS:-4}
HERE=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d)
STREAMS=${STREAMS:-0}
if [ "$STREAMS" -gt 0 ]; then TIMING='ttftMs: 50\n  tpotMs: 20'; C=$STREAMS; STREAM=', "stream": true, "stream_options": {"include_usage": true}'; else TIMING='ttftMs: 0\n  tpotMs: 0'; C=64; STREAM=''; fi
printf "defaults:\n  $TIMING\n  jitter: 0\n  outputTokens: { min: 16, max: 16 }\nmodels:\n  llama-3.1-8b-instruct: {}\n" > $D/sim.yaml
node $HERE/bin/llmwatch.js simulate --config $D/sim.yaml --port 18901 > $D/sim.out 2>&1 &
S=$!
for i in $(seq 1 60); do curl -sf http://127.0.0.1:18901/healthz > /dev/null && break; sleep 1; done
echo '{"port":18902,"upstreams":{"sim":{"baseURL":"http://127.0.0.1:18901/v1","maxConcurrency":512}},"models":{"llama-3.1-8b-instruct":{"upstream":"sim"}}}' > $D/a.json
sed 's/18902/18903/' $D/a.json > $D/b.json
node $BASE/bin/llmwatch.js gateway --config $D/a.json > $D/a.out 2>&1 &
A=$!
node $HERE/bin/llmwatch.js gateway --config $D/b.json > $D/b.out 2>&1 &
B=$!
for port in 18902 18903; do for i in $(seq 1 60); do curl -sf http://127.0.0.1:$port/healthz > /dev/null && break; sleep 1; done; done
printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"Summarise the state of the cluster in one line."}]'"$STREAM"'}]]\n' > $D/post.lua
if [ "$STREAMS" -gt 0 ]; then
  EVENTS=$(curl -sN -H 'content-type: application/json' -d '{"model":"llama-3.1-8b-instruct","messages":[{"role":"user","content":"hi"}]'"$STREAM"'}' http://127.0.0.1:18903/v1/chat/completions | grep -c '^data:')
  echo "$STREAMS concurrent streams, $EVENTS events each"
fi
for port in 18902 18903; do wrk -t1 -c$C -d2s -s $D/post.lua http://127.0.0.1:$port/v1/chat/completions > /dev/null; done
for r in $(seq 1 $ROUNDS); do
  # The order alternates too: the first gateway of a round measured slower in every round when it was always the same one.
  if [ $((r % 2)) = 1 ]; then ORDER="18902 18903"; else ORDER="18903 18902"; fi
  for port in $ORDER; do
    c0=$(awk '{print $14+$15}' /proc/$([ $port = 18902 ] && echo $A || echo $B)/stat)
    out=$(wrk -t1 -c$C -d5s -s $D/post.lua http://127.0.0.1:$port/v1/chat/completions)
    c1=$(awk '{print $14+$15}' /proc/$([ $port = 18902 ] && echo $A || echo $B)/stat)
    n=$(echo "$out" | grep -o '[0-9]* requests in' | cut -d' ' -f1)
    per_event=''
    if [ "$STREAMS" -gt 0 ]; then per_event=" cpu_us_per_event $(( (c1-c0)*10000 / (n*EVENTS) ))"; fi
    echo "round $r $([ $port = 18902 ] && echo base || echo this): $(echo "$out" | grep Requests/sec) cpu_us_per_req $(( (c1-c0)*10000 / n ))$per_event"
  done
done
uptime
kill $A $B $S
rm -rf "$D"
