#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# cfn-lint on every template of deploy/cloudformation (test/deploy/cfn-lint.js
# prints the TAP), with the linter scripts/setup.sh installs in tools/.
set -euo pipefail
root=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}

if [[ ! -d "$root/tools/node_modules/cfn-lint" ]] || ! command -v node >/dev/null; then
	echo "Bail out! no node or tools/node_modules/cfn-lint: run scripts/setup.sh"
	exit 1
fi
exec node "$root/test/deploy/cfn-lint.js" "$root"/deploy/cloudformation/*.yaml
