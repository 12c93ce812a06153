// SPDX-License-Identifier: Apache-2.0
#include "probe/usdt.hpp"

#include "probe/error.hpp"
#include "probe/proc_maps.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <memory>
#include <unistd.h>

namespace kernspan::probe {
namespace {

constexpr uint32_t kNtStapsdt = 3;

struct ElfFile {
  int fd = -1;
  Elf *elf = nullptr;
  ~ElfFile() {
    if (elf != nullptr) {
      elf_end(elf);
    }
    if (fd >= 0) {
      close(fd);
    }
  }
};

uint64_t read_addr(const unsigned char *p, bool is64) {
  if (is64) {
    uint64_t v = 0;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  uint32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Length of the NOP at link-time address `pc` (x86-64: 0x90 or 0f 1f /0).
unsigned nop_length(Elf *elf, uint64_t pc) {
  size_t nphdr = 0;
  if (elf_getphdrnum(elf, &nphdr) != 0) {
    return 0;
  }
  Elf_Scn *scn = nullptr;
  while ((scn = elf_nextscn(elf, scn)) != nullptr) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_PROGBITS ||
        (sh.sh_flags & SHF_EXECINSTR) == 0 || pc < sh.sh_addr || pc >= sh.sh_addr + sh.sh_size) {
      continue;
    }
    Elf_Data *d = elf_getdata(scn, nullptr);
    if (d == nullptr || d->d_buf == nullptr) {
      return 0;
    }
    const size_t off = pc - sh.sh_addr;
    const auto *b = static_cast<const unsigned char *>(d->d_buf);
    if (off < d->d_size && b[off] == 0x90) {
      return 1;
    }
    if (off + 4 < d->d_size && b[off] == 0x0f && b[off + 1] == 0x1f) {
      // nopl with ModRM: 0x44 (disp8+SIB) is the 5-byte form
      if (b[off + 2] == 0x44) {
        return 5;
      }
      if (b[off + 2] == 0x40) {
        return 4;
      }
      if (b[off + 2] == 0x00) {
        return 3;
      }
    }
    return 0;
  }
  return 0;
}

} // namespace

std::vector<UsdtProbe> read_usdt_probes(const std::string &path) {
  elf_version(EV_CURRENT);
  ElfFile f;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    throw ProbeError("cannot open " + path + ": " + std::strerror(errno));
  }
  f.elf = elf_begin(f.fd, ELF_C_READ_MMAP, nullptr);
  if (f.elf == nullptr || elf_kind(f.elf) != ELF_K_ELF) {
    throw ProbeError(path + " is not an ELF object");
  }
  const bool is64 = gelf_getclass(f.elf) == ELFCLASS64;
  const size_t asz = is64 ? 8 : 4;
  size_t shstrndx = 0;
  if (elf_getshdrstrndx(f.elf, &shstrndx) != 0) {
    throw ProbeError(path + ": malformed ELF section headers");
  }
  std::vector<UsdtProbe> out;
  Elf_Scn *scn = nullptr;
  while ((scn = elf_nextscn(f.elf, scn)) != nullptr) {
    GElf_Shdr sh;
    if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != SHT_NOTE) {
      continue;
    }
    const char *sname = elf_strptr(f.elf, shstrndx, sh.sh_name);
    if (sname == nullptr || std::strcmp(sname, ".note.stapsdt") != 0) {
      continue;
    }
    Elf_Data *d = elf_getdata(scn, nullptr);
    if (d == nullptr) {
      continue;
    }
    size_t off = 0;
    GElf_Nhdr nh;
    size_t name_off = 0;
    size_t desc_off = 0;
    while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
      const auto *buf = static_cast<const unsigned char *>(d->d_buf);
      if (nh.n_type != kNtStapsdt || nh.n_namesz != 8 ||
          std::memcmp(buf + name_off, "stapsdt", 8) != 0 || nh.n_descsz < 3 * asz + 3) {
        continue;
      }
      const unsigned char *desc = buf + desc_off;
      const unsigned char *end = desc + nh.n_descsz;
      UsdtProbe p;
      p.object = path;
      p.pc = read_addr(desc, is64);
      p.base = read_addr(desc + asz, is64);
      p.semaphore = read_addr(desc + 2 * asz, is64);
      const auto *s = reinterpret_cast<const char *>(desc + 3 * asz);
      const auto *send = reinterpret_cast<const char *>(end);
      auto next = [&](std::string &into) {
        const void *nul = std::memchr(s, 0, static_cast<size_t>(send - s));
        if (nul == nullptr) {
          return false;
        }
        into.assign(s);
        s = static_cast<const char *>(nul) + 1;
        return true;
      };
      if (!next(p.provider) || !next(p.name)) {
        continue;
      }
      if (s < send) {
        next(p.args);
      }
      out.push_back(std::move(p));
    }
  }
  // File offsets, as the kernel's uprobes want them: the site moves with
  // .stapsdt.base when the object was prelinked, semaphores do not.
  uint64_t stapsdt_base = 0;
  scn = nullptr;
  while ((scn = elf_nextscn(f.elf, scn)) != nullptr) {
    GElf_Shdr sh;
    const char *sname =
        gelf_getshdr(scn, &sh) != nullptr ? elf_strptr(f.elf, shstrndx, sh.sh_name) : nullptr;
    if (sname != nullptr && std::strcmp(sname, ".stapsdt.base") == 0) {
      stapsdt_base = sh.sh_addr;
    }
  }
  size_t nph = 0;
  std::vector<GElf_Phdr> loads;
  if (elf_getphdrnum(f.elf, &nph) == 0) {
    for (size_t i = 0; i < nph; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(f.elf, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD) {
        loads.push_back(ph);
      }
    }
  }
  auto to_offset = [&loads](uint64_t addr, bool exec) -> uint64_t {
    for (const auto &ph : loads) {
      if ((!exec || (ph.p_flags & PF_X) != 0) && addr >= ph.p_vaddr &&
          addr < ph.p_vaddr + ph.p_memsz) {
        return addr - ph.p_vaddr + ph.p_offset;
      }
    }
    return 0;
  };
  for (auto &p : out) {
    p.site_bytes = nop_length(f.elf, p.pc);
    const uint64_t pc = p.base != 0 && stapsdt_base != 0 ? p.pc + stapsdt_base - p.base : p.pc;
    p.site_offset = to_offset(pc, true);
    p.semaphore_offset = p.semaphore != 0 ? to_offset(p.semaphore, false) : 0;
  }
  return out;
}

std::vector<ObjectProbes> find_process_usdt(pid_t pid, const std::string &provider,
                                            std::vector<std::string> *searched) {
  std::vector<ObjectProbes> out;
  for (const auto &obj : mapped_objects(pid)) {
    if (searched != nullptr) {
      searched->push_back(obj);
    }
    ObjectProbes op;
    op.object = obj;
    op.open_path = host_path(pid, obj);
    try {
      for (auto &p : read_usdt_probes(op.open_path)) {
        if (provider.empty() || p.provider == provider) {
          op.probes.push_back(std::move(p));
        }
      }
    } catch (const ProbeError &) {
      continue; // e.g. a mapped data file that is not ELF
    }
    if (!op.probes.empty()) {
      out.push_back(std::move(op));
    }
  }
  return out;
}

} // namespace kernspan::probe
