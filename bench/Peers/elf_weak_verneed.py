#!/usr/bin/env python3
"""Sets VER_FLG_WEAK on named version needs (.gnu.version_r) of an ELF64 little-endian shared library.

Usage: elf_weak_verneed.py LIB VERSION...
A weak version need that the providing library lacks is accepted by ld.so instead of failing the load.
Prints what it changed; already weak entries are left as they are (idempotent).
"""
import struct
import sys

SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def main(path, wanted):
    with open(path, "r+b") as f:
        elf = bytearray(f.read())
        if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
            sys.exit(f"{path}: not an ELF64 little-endian file")
        e_shoff, = struct.unpack_from("<Q", elf, 0x28)
        e_shentsize, e_shnum = struct.unpack_from("<HH", elf, 0x3A)

        def section(i):
            # Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize
            return struct.unpack_from("<IIQQQQIIQQ", elf, e_shoff + i * e_shentsize)

        changed = []
        for i in range(e_shnum):
            sh = section(i)
            if sh[1] != SHT_GNU_VERNEED:
                continue
            strtab_off = section(sh[6])[4]
            count = sh[7]  # sh_info = number of Verneed entries

            def cstr(o):
                start = strtab_off + o
                return elf[start:elf.index(0, start)].decode()

            vn = sh[4]
            for _ in range(count):
                _, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", elf, vn)
                aux = vn + vn_aux
                for _ in range(vn_cnt):
                    _, flags, _, name, nxt = struct.unpack_from("<IHHII", elf, aux)
                    if cstr(name) in wanted and not flags & VER_FLG_WEAK:
                        struct.pack_into("<H", elf, aux + 4, flags | VER_FLG_WEAK)
                        changed.append(f"{cstr(vn_file)}:{cstr(name)}")
                    aux += nxt
                vn += vn_next
        if changed:
            f.seek(0)
            f.write(elf)
        print(f"{path}: " + (("marked weak " + ", ".join(changed)) if changed else "already patched"))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], set(sys.argv[2:]))
