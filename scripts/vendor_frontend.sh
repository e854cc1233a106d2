#!/usr/bin/env bash
# Vendor the portal's front-end libraries (pinned in frontend/package.json and its lock file)
# into static/vendor/, which is committed: the portal never loads anything from a CDN, and a
# machine without the npm registry still serves the pages. Run after changing a version:
#   bash scripts/vendor_frontend.sh && git add frontend static/vendor
set -euo pipefail
cd "$(dirname "$0")/.."
(cd frontend && npm ci --no-audit --no-fund --ignore-scripts)
mkdir -p static/vendor
cp frontend/node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
cp frontend/node_modules/chart.js/dist/chart.umd.min.js static/vendor/chart.umd.min.js
cp frontend/node_modules/htmx.org/LICENSE static/vendor/htmx.LICENSE.txt
cp frontend/node_modules/chart.js/LICENSE.md static/vendor/chart.js.LICENSE.md
# The versions actually copied, so a reviewer sees them next to the files.
node -e '
const fs = require("fs");
const pick = (n) => JSON.parse(fs.readFileSync(`frontend/node_modules/${n}/package.json`)).version;
fs.writeFileSync("static/vendor/VERSIONS.txt",
  `htmx.org ${pick("htmx.org")}\nchart.js ${pick("chart.js")}\n`);'
cat static/vendor/VERSIONS.txt
