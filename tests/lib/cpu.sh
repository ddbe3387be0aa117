# cpu.sh - what this machine's CPU can run, for the shell tests (sourced).
#
# CRIU 4.2's fixtures were made on a CPU with AVX-512: their programs run
# EVEX code (glibc picked its AVX-512 string routines at start-up, fpu uses
# zmm and k registers) and their images carry that xsave state.  A CPU
# without AVX-512 F, BW and VL can neither run those programs nor restore
# those images; the tests ask here instead of assuming either.

# cpu_lacks_avx512: print what this CPU lacks of AVX-512 F/BW/VL, if anything.
cpu_lacks_avx512() {
	local flags f missing=""
	flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
	for f in avx512f avx512bw avx512vl; do
		[[ $flags == *" $f "* ]] || missing="$missing $f"
	done
	echo "${missing# }"
}
