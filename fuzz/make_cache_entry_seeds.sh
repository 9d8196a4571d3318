#!/usr/bin/env bash
# Writes the cache_entry seeds (seeds/cache_entry/) from the configs of tests/data: entries in
# the shared format `<fetch time ms>\n<etag>\n<config json>`, plus a few edge cases.
set -euo pipefail
cd "$(dirname "$0")"
out=seeds/cache_entry
mkdir -p "$out"
i=0
# The six smallest configs, so that the seeds stay small.
for config in $(ls -S ../tests/data/configs/by-sdk-key/*.json | tail -6); do
  i=$((i + 1))
  { printf '1686756435844\n"etag-%d"\n' "$i"; cat "$config"; } > "$out/config_$i.txt"
done
printf '0\n\n{}' > "$out/empty_etag.txt"
printf '18446744073709551615\nW/"weak"\n{"f":{}}' > "$out/max_time.txt"
printf '1\netag\n{\n"f": {"a": {"t": 0, "v": {"b": true}}}\n}\n' > "$out/multiline_json.txt"
printf '1686756435844\netag\n' > "$out/no_json.txt"
printf 'not a number\netag\n{}' > "$out/bad_time.txt"
