#!/bin/bash
# The bash completion (completion/memguardd.bash) offers what memguardd's own --help lists:
# the commands, each command's options, file names after --config and for check, commands
# after help. Needs no root and no bash-completion package: it calls the function as bash does.
# Usage: completion.sh PATH/TO/memguardd
set -euo pipefail
MEMGUARDD=${1:?usage: completion.sh PATH/TO/memguardd}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../completion/memguardd.bash
. "$HERE/../../completion/memguardd.bash"

failed=0
# offers "WORDS OF THE COMMAND LINE" "EXPECTED REPLIES": the last word is the one completed
offers() {
    read -ra COMP_WORDS <<<"$1"
    [[ $1 == *" " ]] && COMP_WORDS+=("")
    COMP_WORDS[0]=$MEMGUARDD
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _memguardd
    # In any order: readline sorts what it shows, and compgen -f lists in directory order.
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | xargs)
    want=$(printf '%s\n' $2 | sort | xargs)
    if [ "$got" == "$want" ]; then
        echo "PASS: '$1' offers '$2'"
    else
        echo "FAIL: '$1' offers '$got', want '$2'"
        failed=1
    fi
}

offers "memguardd " "run check apply diff status doctor verify clients explain allow revoke remove help --version"
offers "memguardd c" "check clients"
offers "memguardd e" "explain"
offers "memguardd explain 10.1.2.3 --" "--json --config --help"
offers "memguardd explain 10.1.2.3 11211/udp -" "--json --config -c --help -h"
offers "memguardd allow 10.0.0.7 --" "--for --guard --comment --help"
offers "memguardd revoke -" "--guard --help -h"
offers "memguardd -" "--config -c --help -h --version"
offers "memguardd apply --" "--once --force --config --help"
offers "memguardd apply --once --f" "--force"
offers "memguardd status --" "--verbose --json --config --help"
offers "memguardd status -" "--verbose -v --json --config -c --help -h"
offers "memguardd verify --j" "--json"
offers "memguardd status --v" "--verbose"
offers "memguardd clients --" "--json --config --help"
offers "memguardd remove -" "--force --help -h"
offers "memguardd help d" "diff doctor"
offers "memguardd --config /etc/memguard.json st" "status"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/a.json" "$dir/b.json"
offers "memguardd check $dir/a" "$dir/a.json"
offers "memguardd diff --config $dir/b" "$dir/b.json"
offers "memguardd status -c $dir/" "$dir/a.json $dir/b.json"

exit "$failed"
