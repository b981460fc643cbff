#!/bin/bash
# bench/report.sh - the report of bench/run.sh: the table of medians and
# ratios on stdout and in bench/last-run.md.  Sourced by run.sh after the
# last round; it reads the results (R, getr) and settings run.sh made.

# metric|label|unit|better
SIZE_LBL="${SIZE_MB} MiB"
METRICS=(
	"w_comp|seq write, compressible ${SIZE_LBL}|MB/s|higher"
	"w_inc|seq write, incompressible ${SIZE_LBL}|MB/s|higher"
	"r_comp|seq read (cold), compressible|MB/s|higher"
	"r_inc|seq read (cold), incompressible|MB/s|higher"
)
if [ $HAVE_LX = 1 ]; then
	METRICS+=(
		"untar_mb|untar linux tree + sync (tar size)|MB/s|higher"
		"untar_eps|untar linux tree + sync|entries/s|higher"
		"ls|ls -lR tree (cold; entries ls shows)|entries/s|higher"
		"du|du -s tree (cold)|entries/s|higher"
		"cat|cat every file of tree (cold)|MB/s|higher"
		"rm|rm -rf tree + sync|entries/s|higher"
	)
else
	METRICS+=("untar_mb|linux tree steps (tree source missing)|-|higher")
fi
METRICS+=(
	"small|create ${NSMALL} files of 1-4 KiB + sync|files/s|higher"
	"sqlite|sqlite3: ${NSQL} single-row transactions (journal_mode=delete)|txn/s|higher"
	"cp|cp -a part of /usr + sync|MB/s|higher"
	"randread|4K rand read, ${RAND_MB} MiB file, qd1|IOPS|higher"
	"randwrite|4K rand write, ${RAND_MB} MiB file, qd1|IOPS|higher"
	"st_comp|stored, compressible: apparent (du -sb)|MiB|lower"
	"al_comp|stored, compressible: allocated (du -sk)|MiB|lower"
	"st_inc|stored, incompressible: apparent (du -sb)|MiB|lower"
	"al_inc|stored, incompressible: allocated (du -sk)|MiB|lower"
	"cr_comp|stored/logical, compressible, allocated|ratio|lower"
	"cr_inc|stored/logical, incompressible, allocated|ratio|lower"
	"cu_al|stored/logical, cp -a of /usr, allocated (du -sk)|ratio|lower"
	"cu_ap|stored/logical, cp -a of /usr, apparent (du -sb)|ratio|lower"
	"cpu|daemon CPU seconds per GiB moved (whole round)|s/GiB|lower"
	"rss|daemon peak RSS (VmHWM, largest in the round)|MiB|lower"
)
# Derived per-round values: compression ratios.
for t in "${ACTIVE[@]}"; do
	for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
		for k in comp inc; do
			v=$(getr "$t" "al_$k")
			case $v in ''|*[!0-9]*) ;; *) setr "$t" "cr_$k" "$(awk -v s="$v" -v l="$SIZE_BYTES" 'BEGIN{printf "%.4f", s/l}')" ;; esac
		done
	done
done

is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# med TARGET KEY: median over the rounds that produced a number, with "*" if
# some round did not; else the (first) status word of the rounds; else NA.
MARKED=0
med() {
	local t=$1 k=$2 r v nums="" bad="" n=0
	for ((r = 1; r <= ROUNDS; r++)); do
		v=${R["$t:$k:$r"]:-NA}
		if is_num "$v"; then nums+="$v "; n=$((n + 1)); else [ -z "$bad" ] && bad=$v; fi
	done
	if [ $n = 0 ]; then echo "${bad:-NA}"; return; fi
	local m; m=$(printf '%s\n' $nums | sort -g | awk '{a[NR]=$1} END{ if (NR % 2) print a[(NR+1)/2]; else printf "%.4f\n", (a[NR/2]+a[NR/2+1])/2 }')
	if [ -n "$bad" ]; then echo "$m*"; else echo "$m"; fi
}
fmt() {  # fmt KEY VALUE -> display
	local k=$1 v=$2 star=""
	case $v in *\*) star="*"; v=${v%\*} ;; esac
	is_num "$v" || { echo "$v"; return; }
	case $k in
	st_*|al_*) v=$(awk -v b="$v" 'BEGIN{printf "%.1f", b/1048576}') ;;
	cr_*|cu_*) v=$(awk -v x="$v" 'BEGIN{printf "%.3f", x}') ;;
	w_*|r_*|untar_mb|cat|cp) v=$(awk -v x="$v" 'BEGIN{printf "%.1f", x}') ;;
	*) v=$(awk -v x="$v" 'BEGIN{printf "%.0f", x}') ;;
	esac
	echo "$v$star"
}
has() { local x; for x in "${ACTIVE[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
PEERS=(); for p in gocryptfs securefs; do has "$p" && PEERS+=("$p"); done

SHOWN=(); for t in plain gocryptfs securefs ragstore; do has "$t" && SHOWN+=("$t"); done
COLS=("step" "unit" "better" "${SHOWN[@]}")
has plain && has ragstore && COLS+=("rag/plain")
[ ${#PEERS[@]} -gt 0 ] && has ragstore && COLS+=("rag/peer" "peer")

ROWS=()   # each row: fields joined by |
RAWROWS=()
BUFMARK=0
# ratio A B: A/B as "1.23x", or "-"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 == 0) print "-"; else printf "%.2fx", a/b }'; }
for m in "${METRICS[@]}"; do
	IFS='|' read -r key label unit better <<< "$m"
	row="$label|$unit|$better"; raw="$label|$unit"
	declare -A M=() B=()
	for t in "${SHOWN[@]}"; do
		M[$t]=$(med "$t" "$key")
		case ${M[$t]} in *\*) MARKED=1 ;; esac
		# Random I/O measured buffered (O_DIRECT refused) in any round: "b".
		B[$t]=0
		for ((r = 1; r <= ROUNDS; r++)); do [ "${R["$t:${key}_buf:$r"]:-0}" = 1 ] && B[$t]=1; done
		[ "${B[$t]}" = 1 ] && BUFMARK=1
		row+="|$(fmt "$key" "${M[$t]}")$([ "${B[$t]}" = 1 ] && echo b)"
		cells=""
		for ((r = 1; r <= ROUNDS; r++)); do
			[ $r -gt 1 ] && cells+=" / "
			cells+=$(fmt "$key" "${R["$t:$key:$r"]:-NA}")
			[ "${R["$t:${key}_buf:$r"]:-0}" = 1 ] && cells+=b
		done
		raw+="|$cells"
	done
	# Ratios on the medians; a buffered figure is only compared with another
	# buffered one.
	if has plain && has ragstore; then
		a=${M[ragstore]%\*}; b=${M[plain]%\*}
		if is_num "$a" && is_num "$b" && [ "${B[ragstore]}" = "${B[plain]}" ]; then row+="|$(ratio "$a" "$b")"
		else row+="|-"; fi
	fi
	if [ ${#PEERS[@]} -gt 0 ] && has ragstore; then
		best=""; bestv=""
		for p in "${PEERS[@]}"; do
			v=${M[$p]%\*}; is_num "$v" || continue
			[ "${B[$p]}" = "${B[ragstore]}" ] || continue
			if [ -z "$bestv" ] || awk -v v="$v" -v w="$bestv" -v d="$better" 'BEGIN{ exit !((d == "higher") ? (v > w) : (v < w)) }'; then
				best=$p; bestv=$v
			fi
		done
		a=${M[ragstore]%\*}
		if [ -n "$bestv" ] && is_num "$a"; then row+="|$(ratio "$a" "$bestv")|$best"
		else row+="|-|-"; fi
	fi
	unset M B
	ROWS+=("$row"); RAWROWS+=("$raw")
done

HOST_INFO="$(uname -sr), $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
GOCRYPTFS_VER="-"; has gocryptfs && GOCRYPTFS_VER=$(gocryptfs -version 2>/dev/null | head -1 | cut -d";" -f1 | sed "s/^gocryptfs //")
SECUREFS_VER="-"
if has securefs; then
	SECUREFS_VER=$(dpkg-query -W -f '${Version}' securefs 2>/dev/null || securefs version 2>/dev/null | head -1)
	SECUREFS_VER="$SECUREFS_VER (format 4)"
fi
RAGSTORE_VER="-"
if has ragstore; then
	RAGSTORE_VER="$("$RAGSTORE" --version 2>/dev/null | head -1 | sed 's/^ragstore //') (from $RAGSTORE_SRC, sha256 $(sha256sum "$RAGSTORE" | cut -c1-12), $RAGSTORE_GIT)"
fi
FIO_TXT=$([ $HAVE_FIO = 1 ] && fio --version || echo "randio.py")

print_text() {
	local -a w=() f
	local r i
	for ((i = 0; i < ${#COLS[@]}; i++)); do w[i]=${#COLS[i]}; done
	for r in "${ROWS[@]}"; do
		IFS='|' read -r -a f <<< "$r"
		for ((i = 0; i < ${#COLS[@]}; i++)); do
			[ ${#f[i]} -gt ${w[i]} ] && w[i]=${#f[i]}
		done
	done
	local line="" sep=""
	for ((i = 0; i < ${#COLS[@]}; i++)); do
		if [ $i = 0 ]; then line+=$(printf '%-*s' "${w[i]}" "${COLS[i]}"); else line+=$(printf '  %*s' "${w[i]}" "${COLS[i]}"); fi
	done
	echo "$line"
	sep=$(printf '%*s' ${#line} '' | tr ' ' '-'); echo "$sep"
	for r in "${ROWS[@]}"; do
		IFS='|' read -r -a f <<< "$r"
		line=""
		for ((i = 0; i < ${#COLS[@]}; i++)); do
			if [ $i = 0 ]; then line+=$(printf '%-*s' "${w[i]}" "${f[i]:-}"); else line+=$(printf '  %*s' "${w[i]}" "${f[i]:-}"); fi
		done
		echo "$line"
	done
}

SUMMARY="sizes: seq files ${SIZE_MB} MiB each; random I/O ${FIO_SECONDS} s each, 4 KiB, O_DIRECT, psync qd1, ${RAND_MB} MiB incompressible file"
if [ $HAVE_LX = 1 ]; then
	if [ "$LX_WANT" -gt 0 ]; then lxw="first $LX_ENTRIES entries of"; else lxw="all of"; fi
	SUMMARY+="; tree: $lxw $LX_SRC (top dir $LX_TOP): $LX_ENTRIES entries, $LX_FILES files, $((LX_BYTES / 1000000)) MB of file data, tar $((LX_TAR_BYTES / 1000000)) MB"
fi
[ $HAVE_CP = 1 ] && SUMMARY+="; cp -a source: ${CP_LIST[*]} = $((CP_BYTES / 1000000)) MB (du -sb), $CP_FILES files, $CP_ENTRIES entries"
SUMMARY+="; small files: $NSMALL of 1-4 KiB random bytes, 1000 per directory"
METHOD="each cell is the median of $ROUNDS round(s) (targets interleaved: odd rounds in order ${ACTIVE[*]}, even rounds reversed; each round on a fresh filesystem); cold = FUSE daemon remounted + sync + drop_caches; per-step timeout ${STEP_TIMEOUT} s (TIMEOUT cell)"
RATIO_TXT="rag/peer = ragstore ÷ best encrypted peer: ÷ max(gocryptfs, securefs) for rates (>1: ragstore faster), ÷ min(...) for sizes (<1: ragstore smaller); peer = which one; rag/plain = ragstore ÷ plain"
LEGEND="NA = not measured (see notes); FAIL = the command failed; TIMEOUT = over the per-step timeout"
[ $BUFMARK = 1 ] && LEGEND+="; b = measured buffered because the filesystem refused O_DIRECT (repeated reads are page-cache hits, so not comparable: left out of the ratios)"
[ $MARKED = 1 ] && LEGEND+="; * = median of only the rounds that gave a number (others TIMEOUT/FAIL/NA, see notes)"
{
	echo
	echo "ragstore benchmark — $(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo '  [BENCH_QUICK smoke run]')"
	echo "host: $HOST_INFO; backing fs: $fstype under $PARENT"
	echo "versions: ragstore $RAGSTORE_VER; gocryptfs $GOCRYPTFS_VER; securefs $SECUREFS_VER; $FIO_TXT"
	echo "$SUMMARY"
	echo "$METHOD"
	echo "$RATIO_TXT. $LEGEND. Total run time ${TOTAL} s."
	echo
	print_text
	if [ ${#NOTES[@]} -gt 0 ]; then echo; echo "notes:"; for n in "${NOTES[@]}"; do echo "  - $n"; done; fi
	echo
} | tee "$WORK/table.txt"

{
	echo "# ragstore benchmark — last run"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC')$([ "$QUICK" = 1 ] && echo ' — **BENCH_QUICK smoke run**'). Generated by \`bench/run.sh\`; not committed."
	echo
	echo "- host: $HOST_INFO; backing fs: $fstype under $PARENT"
	echo "- versions: ragstore $RAGSTORE_VER; gocryptfs $GOCRYPTFS_VER; securefs $SECUREFS_VER; $FIO_TXT"
	echo "- $SUMMARY"
	echo "- $METHOD"
	echo "- $RATIO_TXT"
	echo "- $LEGEND; total run time ${TOTAL} s"
	echo
	hdr="|"; al="|"
	for c in "${COLS[@]}"; do hdr+=" $c |"; case $c in step|peer) al+="---|" ;; *) al+="---:|" ;; esac; done
	echo "$hdr"; echo "$al"
	for r in "${ROWS[@]}"; do r=${r//\*/\\*}; echo "| ${r//|/ | } |"; done
	echo
	echo "## Every round (round 1 / round 2 / ...)"
	echo
	hdr="| step | unit |"; al="|---|---|"
	for t in "${SHOWN[@]}"; do hdr+=" $t |"; al+="---:|"; done
	echo "$hdr"; echo "$al"
	for r in "${RAWROWS[@]}"; do r=${r//\*/\\*}; echo "| ${r//|/ | } |"; done
	if [ ${#NOTES[@]} -gt 0 ]; then echo; echo "## Notes"; echo; for n in "${NOTES[@]}"; do echo "- $n"; done; fi
} > "$OUT_MD" 2>/dev/null || log "could not write $OUT_MD"
log "markdown written to $OUT_MD"
exit 0
