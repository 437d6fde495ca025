# bash completion for memguardd(8), installed as /usr/share/bash-completion/completions/memguardd.
# The commands and each command's options are read from `memguardd --help` and
# `memguardd COMMAND --help`, so this file never lists them twice.

# _memguardd_words HELP_TEXT: the first column of the help text's two-column rows, as words:
# "run [--config FILE]" gives "run", "--config FILE, -c FILE" gives "--config -c".
_memguardd_words() {
    awk '/^  [^ ]/ {
        for (i = 1; i <= NF; i++) {
            w = $i
            gsub(/[][,]/, "", w)
            if (w ~ /^[A-Z\/]+$/) continue # a placeholder: FILE, COMMAND, PORT/PROTO
            if (i > 1 && w !~ /^-/) break   # the second column starts
            print w
            if (w !~ /^-/) break            # a command name: its options are not words here
        }
    }' <<<"$1"
}

_memguardd() {
    local bin=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local cmd="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -c | --config) i=$((i + 1)) ;;
        -*) ;;
        *) cmd=${COMP_WORDS[i]} && break ;;
        esac
    done
    COMPREPLY=()
    if [[ $prev == -c || $prev == --config || ($cmd == check && $cur != -*) ]]; then
        compopt -o filenames 2>/dev/null || true # quote them, mark directories
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
    fi
    if [[ $cmd == help ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_memguardd_words "$("$bin" --help 2>/dev/null)" |
            grep -v '^-')" -- "$cur")
        return
    fi
    local words
    if [[ -z $cmd && $cur != -* ]]; then
        words=$(_memguardd_words "$("$bin" --help 2>/dev/null)")
    else
        words=$(_memguardd_words "$("$bin" "${cmd:-run}" --help 2>/dev/null)")
        [[ -z $cmd ]] && words+=" --version"
    fi
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}

complete -F _memguardd memguardd
