// SPDX-License-Identifier: Apache-2.0
// Functions of an ELF object (.symtab and .dynsym), C++ demangling, glob
// matching, and where to place a function's entry uprobe.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace kernspan::probe {

// Where an entry probe goes, and why.
struct Placement {
  uint64_t skip = 0;     // bytes past the function's first instruction
  bool emulated = false; // the kernel emulates the probed instruction
  std::string insn;      // "push", "nop", "call", "jmp", "other", "?"
  // e.g. "entry+4 (after endbr64; push, emulated)"
  [[nodiscard]] std::string describe() const;
};

struct ElfFunction {
  std::string name;      // raw (mangled) symbol name
  std::string demangled; // == name for C symbols
  uint64_t addr = 0;     // link-time address
  uint64_t size = 0;
  uint64_t file_offset = 0; // of addr, in the file
  bool in_symtab = false;
  bool in_dynsym = false;
  Placement placement;                      // filled by place_entries
  [[nodiscard]] std::string source() const; // "symtab", "dynsym" or "symtab+dynsym"
};

// Every defined function symbol (STT_FUNC, or STT_GNU_IFUNC) of the object,
// one per address (aliases collapse onto the first name seen, .symtab before
// .dynsym), sorted by address. Throws ProbeError if the file cannot be read
// or is not ELF.
std::vector<ElfFunction> read_functions(const std::string &path);

// Decide the entry placement of each function from its first bytes (x86-64):
// past a leading endbr64 (f3 0f 1e fa), since the kernel must single-step an
// endbr64 (~10 us a hit) but emulates push, nop and branches (~0.6 us).
// `skip_endbr` false keeps every probe on the first instruction.
void place_entries(const std::string &path, std::vector<ElfFunction> &fns, bool skip_endbr = true);

// abi::__cxa_demangle, or the name itself when it is not a C++ name.
std::string demangle(const std::string &name);

// Shell-style glob (fnmatch, '*' also crosses "::" and "/").
bool glob_match(const std::string &pattern, const std::string &text);
bool has_glob(const std::string &pattern);

// Functions whose raw or demangled name matches the glob.
std::vector<ElfFunction> match_functions(const std::vector<ElfFunction> &fns,
                                         const std::string &pattern);

// The `n` names closest to `name` (edit distance over demangled names, and
// over the name before its parameter list), for "did you mean" hints.
std::vector<std::string> nearest_names(const std::vector<ElfFunction> &fns, const std::string &name,
                                       size_t n = 3);

// --uprobe 'OBJECT:PATTERN[,args=N]'
struct UprobeSpec {
  std::string object;  // path, or library name ("libc")
  std::string pattern; // glob
  uint32_t nargs = 0;  // 0..6
};

// Throws ProbeError "bad --uprobe spec '...': <what> at character N".
UprobeSpec parse_uprobe_spec(const std::string &spec);

// The file OBJECT names in the process: a path (as the process sees it), or
// a library name matched against the basenames of its mapped objects
// ("libc" -> /usr/lib/x86_64-linux-gnu/libc.so.6). pid <= 0: OBJECT must be
// a path. Throws ProbeError listing the candidates when none or several match.
std::string resolve_object(pid_t pid, const std::string &object);

// Does library name `name` ("libc") name the object at `path`: its basename
// is `name`, or `name` followed by '.' or '-'?
bool object_name_matches(const std::string &path, const std::string &name);

// The basenames of the `n` objects among `paths` nearest to library name
// `name` (edit distance to the basename or to its part before the first
// '.' or '-'; a stem that `name` begins counts as near), nearest first, for
// "did you mean" hints.
std::vector<std::string> nearest_objects(const std::vector<std::string> &paths,
                                         const std::string &name, size_t n = 3);

} // namespace kernspan::probe
