// SPDX-License-Identifier: Apache-2.0
#include "probe/functions.hpp"

#include "probe/error.hpp"
#include "probe/proc_maps.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cxxabi.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <libelf.h>
#include <map>
#include <memory>
#include <unistd.h>

namespace kernspan::probe {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      close(fd);
    }
  }
};

struct ElfHandle {
  Elf *elf = nullptr;
  ~ElfHandle() {
    if (elf != nullptr) {
      elf_end(elf);
    }
  }
};

struct Segment {
  uint64_t vaddr, filesz, offset;
};

// Link-time address -> file offset, through the PT_LOAD segment holding it.
bool to_file_offset(const std::vector<Segment> &segs, uint64_t addr, uint64_t *off) {
  for (const auto &s : segs) {
    if (addr >= s.vaddr && addr < s.vaddr + s.filesz) {
      *off = addr - s.vaddr + s.offset;
      return true;
    }
  }
  return false;
}

size_t edit_distance(const std::string &a, const std::string &b) {
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) {
    prev[j] = j;
  }
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      const size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "ns::Cache::get(int) const" -> "ns::Cache::get"
std::string without_params(const std::string &demangled) {
  const auto p = demangled.find('(');
  return p == std::string::npos || p == 0 ? demangled : demangled.substr(0, p);
}

} // namespace

std::string Placement::describe() const {
  std::string s = skip == 0 ? "entry" : "entry+" + std::to_string(skip);
  s += " (";
  if (skip == 4) {
    s += "after endbr64; ";
  }
  s += insn;
  s += emulated ? ", emulated)" : ", single-stepped)";
  return s;
}

std::string ElfFunction::source() const {
  if (in_symtab && in_dynsym) {
    return "symtab+dynsym";
  }
  return in_symtab ? "symtab" : "dynsym";
}

std::string demangle(const std::string &name) {
  if (name.rfind("_Z", 0) != 0) {
    return name;
  }
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> d(
      abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status), &std::free);
  return status == 0 && d ? std::string(d.get()) : name;
}

bool has_glob(const std::string &pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

bool glob_match(const std::string &pattern, const std::string &text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

std::vector<ElfFunction> read_functions(const std::string &path) {
  elf_version(EV_CURRENT);
  Fd f;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    throw ProbeError("cannot open " + path + ": " + std::strerror(errno));
  }
  ElfHandle e;
  e.elf = elf_begin(f.fd, ELF_C_READ_MMAP, nullptr);
  if (e.elf == nullptr || elf_kind(e.elf) != ELF_K_ELF) {
    throw ProbeError(path + " is not an ELF object");
  }
  GElf_Ehdr eh;
  if (gelf_getehdr(e.elf, &eh) == nullptr || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
    throw ProbeError(path + " is not an executable or shared object");
  }
  std::vector<Segment> segs;
  size_t nphdr = 0;
  if (elf_getphdrnum(e.elf, &nphdr) == 0) {
    for (size_t i = 0; i < nphdr; i++) {
      GElf_Phdr ph;
      if (gelf_getphdr(e.elf, static_cast<int>(i), &ph) != nullptr && ph.p_type == PT_LOAD &&
          (ph.p_flags & PF_X) != 0) {
        segs.push_back({ph.p_vaddr, ph.p_filesz, ph.p_offset});
      }
    }
  }
  std::map<uint64_t, ElfFunction> by_addr;
  for (const Elf64_Word want : {SHT_SYMTAB, SHT_DYNSYM}) {
    Elf_Scn *scn = nullptr;
    while ((scn = elf_nextscn(e.elf, scn)) != nullptr) {
      GElf_Shdr sh;
      if (gelf_getshdr(scn, &sh) == nullptr || sh.sh_type != want || sh.sh_entsize == 0) {
        continue;
      }
      Elf_Data *d = elf_getdata(scn, nullptr);
      if (d == nullptr) {
        continue;
      }
      const size_t n = sh.sh_size / sh.sh_entsize;
      for (size_t i = 0; i < n; i++) {
        GElf_Sym sym;
        if (gelf_getsym(d, static_cast<int>(i), &sym) == nullptr ||
            GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
            sym.st_value == 0) {
          continue;
        }
        const char *name = elf_strptr(e.elf, sh.sh_link, sym.st_name);
        if (name == nullptr || *name == '\0') {
          continue;
        }
        auto [it, fresh] = by_addr.try_emplace(sym.st_value);
        ElfFunction &fn = it->second;
        if (fresh) {
          fn.name = name;
          fn.addr = sym.st_value;
          fn.size = sym.st_size;
          if (!to_file_offset(segs, fn.addr, &fn.file_offset)) {
            by_addr.erase(it);
            continue;
          }
        }
        (want == SHT_SYMTAB ? fn.in_symtab : fn.in_dynsym) = true;
      }
    }
  }
  std::vector<ElfFunction> out;
  out.reserve(by_addr.size());
  for (auto &[addr, fn] : by_addr) {
    fn.demangled = demangle(fn.name);
    out.push_back(std::move(fn));
  }
  return out;
}

namespace {

// Where a uprobe goes for a function whose first 16 bytes are `b`, and what
// the kernel's x86 uprobe code does with the instruction there (emulates
// it, or single-steps it). The instruction's name is chosen as a pointer
// and copied into the string once: assigning string literals to insn
// after resetting it tripped GCC 12's bogus -Wrestrict at -O3 (GCC bug
// 105329).
Placement placement_of(const unsigned char *b, bool skip_endbr) {
  Placement p;
  const unsigned char *i = b;
  if (skip_endbr && b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa) {
    p.skip = 4;
    i += 4;
  }
  const char *insn = "other";
  if ((i[0] >= 0x50 && i[0] <= 0x57) || (i[0] == 0x41 && i[1] >= 0x50 && i[1] <= 0x57)) {
    insn = "push";
    p.emulated = true;
  } else if (i[0] == 0x90 || (i[0] == 0x0f && i[1] == 0x1f) ||
             (i[0] == 0x66 && i[1] == 0x0f && i[2] == 0x1f)) {
    insn = "nop";
    p.emulated = true;
  } else if (i[0] == 0xe8) {
    insn = "call";
    p.emulated = true;
  } else if (i[0] == 0xe9 || i[0] == 0xeb) {
    insn = "jmp";
    p.emulated = true;
  } else if (i[0] == 0xf3 && i[1] == 0x0f && i[2] == 0x1e && i[3] == 0xfa) {
    insn = "endbr64";
  }
  p.insn = insn;
  return p;
}

} // namespace

void place_entries(const std::string &path, std::vector<ElfFunction> &fns, bool skip_endbr) {
  Fd f;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  for (auto &fn : fns) {
    unsigned char b[16] = {};
    if (f.fd < 0 || pread(f.fd, b, sizeof(b), static_cast<off_t>(fn.file_offset)) !=
                        static_cast<ssize_t>(sizeof(b))) {
      fn.placement = Placement{0, false, "?"}; // unreadable: not placed
      continue;
    }
    fn.placement = placement_of(b, skip_endbr);
  }
}

std::vector<ElfFunction> match_functions(const std::vector<ElfFunction> &fns,
                                         const std::string &pattern) {
  std::vector<ElfFunction> out;
  for (const auto &fn : fns) {
    if (glob_match(pattern, fn.name) || glob_match(pattern, fn.demangled) ||
        glob_match(pattern, without_params(fn.demangled))) {
      out.push_back(fn);
    }
  }
  return out;
}

std::vector<std::string> nearest_names(const std::vector<ElfFunction> &fns, const std::string &name,
                                       size_t n) {
  std::vector<std::pair<size_t, std::string>> scored;
  scored.reserve(fns.size());
  for (const auto &fn : fns) {
    const std::string short_name = without_params(fn.demangled);
    scored.emplace_back(std::min(edit_distance(name, short_name), edit_distance(name, fn.name)),
                        short_name);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto &[d, s] : scored) {
    if (out.size() >= n) {
      break;
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) {
      out.push_back(s);
    }
  }
  return out;
}

UprobeSpec parse_uprobe_spec(const std::string &spec) {
  auto bad = [&](const std::string &what, size_t pos) {
    return ProbeError("bad --uprobe spec '" + spec + "': " + what + " at character " +
                      std::to_string(pos + 1) + " (expected OBJECT:PATTERN[,args=N])");
  };
  UprobeSpec out;
  std::string rest = spec;
  // Options trail the pattern as ",key=value"; a C++ parameter list such as
  // "f(int, int)" has a comma too, but no "key=".
  while (true) {
    const auto comma = rest.rfind(',');
    if (comma == std::string::npos) {
      break;
    }
    const std::string opt = rest.substr(comma + 1);
    const auto eq = opt.find('=');
    if (eq == std::string::npos || eq == 0 ||
        opt.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") < eq) {
      break;
    }
    const std::string key = opt.substr(0, eq);
    const std::string val = opt.substr(eq + 1);
    if (key == "args") {
      if (val.size() != 1 || val[0] < '0' || val[0] > '6') {
        throw bad("args must be 0..6", comma + 1 + eq + 1);
      }
      out.nargs = static_cast<uint32_t>(val[0] - '0');
    } else {
      throw bad("unknown option '" + key + "'", comma + 1);
    }
    rest.resize(comma);
  }
  // OBJECT ends at the first ':' that is not part of "::".
  size_t colon = std::string::npos;
  for (size_t i = 0; i < rest.size(); i++) {
    if (rest[i] == ':' && (i + 1 >= rest.size() || rest[i + 1] != ':')) {
      colon = i;
      break;
    }
    if (rest[i] == ':') {
      i++; // skip "::"
    }
  }
  if (colon == std::string::npos) {
    throw bad("missing ':' between OBJECT and PATTERN", rest.size());
  }
  if (colon == 0) {
    throw bad("empty OBJECT", 0);
  }
  out.object = rest.substr(0, colon);
  out.pattern = rest.substr(colon + 1);
  if (out.pattern.empty()) {
    throw bad("empty PATTERN", colon + 1);
  }
  return out;
}

bool object_name_matches(const std::string &path, const std::string &name) {
  const std::string base = path.substr(path.rfind('/') + 1);
  return base == name || (base.size() > name.size() && base.compare(0, name.size(), name) == 0 &&
                          (base[name.size()] == '.' || base[name.size()] == '-'));
}

std::vector<std::string> nearest_objects(const std::vector<std::string> &paths,
                                         const std::string &name, size_t n) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto &path : paths) {
    const std::string base = path.substr(path.rfind('/') + 1);
    // The library name a user would type: "libcrypto" of libcrypto.so.3.
    const std::string stem = base.substr(0, base.find_first_of(".-"));
    size_t d = std::min(edit_distance(name, stem), edit_distance(name, base));
    if (!name.empty() && stem.rfind(name, 0) == 0) {
      d = std::min<size_t>(d, 1); // the start of the name: near
    }
    scored.emplace_back(d, base);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto &[d, base] : scored) {
    if (out.size() >= n) {
      break;
    }
    if (std::find(out.begin(), out.end(), base) == out.end()) {
      out.push_back(base);
    }
  }
  return out;
}

std::string resolve_object(pid_t pid, const std::string &object) {
  if (object.find('/') != std::string::npos) {
    return pid > 0 ? host_path(pid, object) : object;
  }
  if (pid <= 0) {
    throw ProbeError("object '" + object + "' must be a path when no PID is given");
  }
  const auto objs = mapped_objects(pid);
  std::vector<std::string> hits;
  for (const auto &o : objs) {
    if (object_name_matches(o, object)) {
      hits.push_back(o);
    }
  }
  if (hits.size() == 1) {
    return host_path(pid, hits[0]);
  }
  std::string list;
  const auto &show = hits.empty() ? objs : hits;
  for (size_t i = 0; i < show.size() && i < 8; i++) {
    list += (i != 0 ? ", " : "") + show[i].substr(show[i].rfind('/') + 1);
  }
  if (hits.empty()) {
    throw ProbeError("no object named '" + object + "' is mapped by PID " + std::to_string(pid) +
                     "; it maps: " + list);
  }
  throw ProbeError("'" + object + "' names " + std::to_string(hits.size()) + " objects in PID " +
                   std::to_string(pid) + " (" + list + "): give a path");
}

} // namespace kernspan::probe
