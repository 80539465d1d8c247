# tests/tui.sh — sourced by the console tests (after tests/lib.sh): the
# console in tmux on a private socket, at a fixed size, driven by send-keys
# and read by capture-pane. Tests wait for text on the screen, never a
# fixed time: wait_for polls the screen until the text shows up or the
# deadline passes.

command -v tmux >/dev/null 2>&1 || { fail "tmux is installed" "make deps installs it"; t_done; }

TUI_N=0
TUI_SOCK="$TMP/tmux.0.sock"
TUI_TIMEOUT=${TUI_TIMEOUT:-20}
[ "${RBC_SAN:-0}" = 1 ] && TUI_TIMEOUT=60
tmx() { tmux -S "$TUI_SOCK" -f /dev/null "$@"; }
trap 'tmx kill-server >/dev/null 2>&1; rm -rf "$TMP"' EXIT

# tui_start COLS ROWS ARGS...: starts `rbc ARGS` in a new session (the
# environment: TERM=xterm-256color, LANG=C.UTF-8, RBC_RUNS_DIR in $TMP,
# and whatever TUI_ENV holds, e.g. TUI_ENV="NO_COLOR=1"). Each start gets a
# server of its own on a new socket: a server still going away from the last
# one can never take the new session with it.
tui_start() {
	local cols=$1 rows=$2; shift 2
	tmx kill-server >/dev/null 2>&1
	TUI_N=$((TUI_N + 1))
	TUI_SOCK="$TMP/tmux.$TUI_N.sock"
	local cmd="env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/runs' ${TUI_ENV:-}"
	local a
	for a in "$RBC" "$@"; do cmd="$cmd '${a//\'/\'\\\'\'}'"; done
	cmd="$cmd; echo \"[exit \$?]\"; sleep 600"
	tmx new-session -d -x "$cols" -y "$rows" -s t "$cmd"
	tmx set-option -t t status off >/dev/null
}

# screen [-e]: the visible screen as text (-e: with colour escapes).
screen() { tmx capture-pane -p ${1:+"$1"} -t t 2>/dev/null; }

# keys KEY...: tmux send-keys (names like Enter, Space, Tab, Escape, Down).
keys() { tmx send-keys -t t "$@" 2>/dev/null; }
# type TEXT: literal text.
type_text() { tmx send-keys -t t -l "$1" 2>/dev/null; }

# settle TEST ARG: $SCREEN, just matched, taken again until two captures in
# a row agree (half a second at most), as long as TEST ARG still holds for
# the new one: a frame reaches tmux in pieces, and the text looked for can
# be in its first piece (the header) before the rest (the tree) has come.
settle() {
	local i now
	for i in $(seq 25); do
		now=$(screen)
		[ "$now" = "$SCREEN" ] && return 0
		"$1" "$now" "$2" || return 0 # gone again: the screen that had it stays
		SCREEN=$now
		sleep 0.02
	done
}
has_text() { case $1 in *"$2"*) return 0 ;; esac; return 1; }
has_re() { printf '%s\n' "$1" | grep -Eq -- "$2"; }

# wait_for TEXT [SECONDS]: polls the screen until it contains TEXT (fixed
# string); the screen, once settled, is in $SCREEN afterwards. False on
# timeout.
wait_for() {
	local text=$1 secs=${2:-$TUI_TIMEOUT}
	local deadline=$((SECONDS + secs))
	while :; do
		SCREEN=$(screen)
		case $SCREEN in *"$text"*) settle has_text "$text"; return 0 ;; esac
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}

# wait_re REGEX [SECONDS]: the same with an extended regular expression.
wait_re() {
	local re=$1 secs=${2:-$TUI_TIMEOUT}
	local deadline=$((SECONDS + secs))
	while :; do
		SCREEN=$(screen)
		printf '%s\n' "$SCREEN" | grep -Eq -- "$re" && { settle has_re "$re"; return 0; }
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}

# wait_idle: the status bar says "idle": no job runs and the keys are read.
wait_idle() { wait_re ' idle *$' "${1:-$TUI_TIMEOUT}"; }

# expect_screen NAME TEXT: waits for TEXT; fails NAME with the screen if it never shows.
expect_screen() {
	if wait_for "$2"; then ok "$1"
	else fail "$1" "never showed: $2" "$SCREEN"; fi
}
expect_screen_re() {
	if wait_re "$2"; then ok "$1"
	else fail "$1" "never matched: $2" "$SCREEN"; fi
}

# row_of TEXT: the first screen line containing TEXT.
row_of() { printf '%s\n' "$SCREEN" | grep -F -- "$1" | head -1; }

# tui_exit: waits for the program to end; its status in $TUI_RC.
tui_exit() {
	if wait_re '^\[exit [0-9]+\]' "${1:-$TUI_TIMEOUT}"; then
		TUI_RC=$(printf '%s\n' "$SCREEN" | sed -n 's/^\[exit \([0-9]*\)\]$/\1/p' | tail -1)
		return 0
	fi
	TUI_RC=""
	return 1
}

# A second console beside the one above, on a tmux server of its own (the
# driver's, in the tests of following and joining): drv TMUX-ARGS… talks to
# it, dscreen prints its screen, dwait TEXT waits (TUI_TIMEOUT) until it
# shows TEXT. Set DSOCK to start another server.
DSOCK=$TMP/driver.sock
drv() { tmux -S "$DSOCK" -f /dev/null "$@"; }
dscreen() { drv capture-pane -p -t d 2>/dev/null; }
dwait() {
	local deadline=$((SECONDS + TUI_TIMEOUT))
	while :; do
		case $(dscreen) in *"$1"*) return 0 ;; esac
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}
