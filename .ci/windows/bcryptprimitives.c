/*
 * A test-only stand-in for bcryptprimitives.dll, for running mmf's Windows programs under Wine 8.
 *
 * Programs built by Rust 1.78 or later import ProcessPrng from bcryptprimitives.dll (the standard
 * library's random seed, for HashMap). Windows 10 and later ship that DLL; Wine 8 does not, and
 * such a program fails to start there ("import_dll Library bcryptprimitives.dll ... not found",
 * status c0000135). Placed beside the .exe, this DLL answers ProcessPrng with RtlGenRandom
 * (advapi32's SystemFunction036), which Wine implements.
 *
 * It is NOT for real Windows, which has the real DLL (and would load it from the system directory
 * first for a known DLL anyway): ship mmf.exe without it. `.ci/windows.sh` builds it with
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom; mingw's ntsecapi.h declares it under a macro name, so it is declared here. */
__declspec(dllimport) BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills `data` with `len` random bytes. Real Windows documents it as never failing; this one
 * returns FALSE if RtlGenRandom does. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
