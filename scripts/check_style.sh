#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Style checks CI runs: clang-format (the repo's .clang-format) over the C sources, an
# SPDX line in the first three lines of every source file, and the layer rules of
# docs/architecture.md on the file graph (scripts/check_layers.py). Exit 1 on any finding.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rc=0
mapfile -t c_files < <(git ls-files 'drivers/*.[ch]' 'common/*.[ch]' 'virtio-user/*.[ch]' \
	'backend/*.[ch]' 'tests/*.[ch]' 'app/*.[ch]')
if ! clang-format --dry-run --Werror "${c_files[@]}"; then
	echo "check_style: clang-format differs (run: clang-format -i <file>)"
	rc=1
fi
mapfile -t src_files < <(git ls-files '*.c' '*.h' '*.py' '*.sh' .ci/run)
for f in "${src_files[@]}"; do
	if ! head -3 "$f" | grep -q 'SPDX-License-Identifier:'; then
		echo "check_style: $f has no SPDX line in its first three lines"
		rc=1
	fi
done
if ! python3 scripts/check_layers.py; then
	echo "check_style: the layer rules are broken (scripts/check_layers.py --graph shows why)"
	rc=1
fi
[ "$rc" -eq 0 ] && echo "check_style: clang-format, SPDX lines and layers clean (${#c_files[@]} C files, ${#src_files[@]} sources)"
exit "$rc"
