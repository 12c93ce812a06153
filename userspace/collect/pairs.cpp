// SPDX-License-Identifier: Apache-2.0
#include "collect/pairs.hpp"

#include "core/normalize.hpp"

#include <cstring>

namespace kernspan::collect {

ks_pair_cfg pair_config(const probe::SpanSpec &spec) {
  ks_pair_cfg c{};
  c.name_arg = static_cast<__s8>(spec.name.index);
  c.name_from = spec.name.from_end ? KS_PAIR_FROM_END : KS_PAIR_FROM_BEGIN;
  c.id_arg = static_cast<__s8>(spec.id_arg);
  c.nattrs = static_cast<__u8>(spec.attrs.size());
  for (size_t i = 0; i < spec.attrs.size() && i < KS_PAIR_MAX_ATTRS; i++) {
    const auto &a = spec.attrs[i].second;
    c.attr_arg[i] = static_cast<__s8>(a.index);
    c.attr_from[i] = a.from_end ? KS_PAIR_FROM_END : KS_PAIR_FROM_BEGIN;
    c.attr_str[i] = a.is_string ? 1 : 0;
  }
  return c;
}

void name_by_text(const probe::SpanSpec &spec, core::Span &span, bool cut) {
  const bool sql = spec.name_form == probe::NameForm::kSql;
  std::string text = std::move(span.name);
  span.name = sql ? core::normalize_sql(text) : core::normalize_text(text);
  if (cut) {
    span.attributes[kTextCut] = true;
  }
  if (sql && spec.begin.provider == "postgresql") {
    span.attributes["db.system"] = std::string("postgresql");
  }
  span.attributes[sql ? kSqlTextKey : kTextKey] = std::move(text);
}

std::optional<PairStrings> decode_pair_strings(const ks_pair_span_rec &r, const void *data,
                                               size_t rec_size) {
  size_t total = 0;
  for (const auto len : r.str_len) {
    if (len > KS_MAX_STRING) {
      return std::nullopt;
    }
    total += len;
  }
  if (rec_size < sizeof(r) || rec_size - sizeof(r) != total) {
    return std::nullopt;
  }
  PairStrings out;
  const char *p = static_cast<const char *>(data) + sizeof(r);
  for (size_t i = 0; i < KS_PAIR_NSTRS; i++) {
    const std::string_view v(p, r.str_len[i]);
    p += r.str_len[i];
    out.state[i] = r.str_state[i];
    if ((r.str_state[i] & KS_STR_UNREADABLE) != 0) {
      continue;
    }
    out.s[i] = (r.str_state[i] & KS_STR_CUT) != 0 ? cut_string(v) : std::string(v);
  }
  return out;
}

std::optional<core::Span> decode_pair_span(const void *data, size_t size,
                                           const core::ClockOffset &clock,
                                           const std::vector<probe::SpanSpec> &pairs,
                                           DecodeError *err) {
  ks_pair_span_rec r;
  auto span = decode_span_part(
      r, data, size, KS_REC_PAIR_SPAN,
      [&pairs](const ks_pair_span_rec &rec) { return rec.pair_id < pairs.size(); }, clock, err,
      true);
  if (!span) {
    return std::nullopt;
  }
  ks_hdr h;
  std::memcpy(&h, data, sizeof(h));
  auto strs = decode_pair_strings(r, data, h.size);
  if (!strs) {
    if (err != nullptr) {
      *err = DecodeError::kBadSize;
    }
    return std::nullopt;
  }
  const auto &spec = pairs[r.pair_id];
  std::string &name = strs->s[KS_PAIR_STR_NAME];
  if (spec.name.index < 0 || name.empty()) {
    span->name = spec.name.index < 0 ? spec.literal_name : "<unreadable name>";
  } else {
    span->name = std::move(name);
    if (spec.name_form != probe::NameForm::kAsIs) {
      name_by_text(spec, *span, (strs->state[KS_PAIR_STR_NAME] & KS_STR_CUT) != 0);
    }
  }
  for (size_t i = 0; i < spec.attrs.size() && i < KS_PAIR_MAX_ATTRS; i++) {
    const auto &[key, a] = spec.attrs[i];
    if (a.is_string) {
      span->attributes[key] = std::move(strs->s[1 + i]);
    } else {
      span->attributes[key] = static_cast<int64_t>(r.ints[i]);
    }
  }
  if (r.async != 0) {
    span->attributes["kernspan.async"] = true;
  }
  return span;
}

} // namespace kernspan::collect
