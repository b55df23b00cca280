#include "xml/xml.h"

#include <utility>

#include "common/check.h"

namespace dase::xml {
namespace {

constexpr size_t kNpos = std::string_view::npos;

bool IsXmlChar(uint32_t cp) {
  if (cp < 0x20) return cp == '\t' || cp == '\n' || cp == '\r';
  if (cp <= 0xD7FF) return true;
  if (cp < 0xE000) return false;  // surrogates
  if (cp <= 0xFFFD) return true;
  return cp >= 0x10000 && cp <= 0x10FFFF;
}

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Returns the offset of the first byte that is not part of valid UTF-8 encoding an XML 1.0
// character, or kNpos. Overlong forms and encoded surrogates are invalid UTF-8.
size_t FindInvalidChar(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
    } else {
      return i;
    }
    if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (size_t k = 1; k < len; ++k) {
      if (!IsContinuation(p[i + k])) return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (!IsXmlChar(cp)) return i;  // U+FFFE, U+FFFF
    i += len;
  }
  return kNpos;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Names are checked for ASCII exactly; any non-ASCII character (already known to be valid
// UTF-8) is accepted as a name character, a superset of XML's rules that S3 never exercises.
bool IsNameStart(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u == ':' || u >= 0x80;
}

bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

struct QName {
  std::string_view prefix;
  std::string_view local;
};

// Splits "prefix:local"; nullopt if the colons do not form a namespace-well-formed QName.
std::optional<QName> SplitQName(std::string_view qname) {
  const size_t colon = qname.find(':');
  if (colon == kNpos) return QName{{}, qname};
  if (colon == 0 || colon + 1 == qname.size() || qname.find(':', colon + 1) != kNpos) {
    return std::nullopt;
  }
  return QName{qname.substr(0, colon), qname.substr(colon + 1)};
}

struct StartTag {
  Node node;
  bool empty;  // written as <name/>
};

struct PseudoAttribute {
  std::string_view name;
  std::string_view value;
};

// The state of one Parse call: the input, the read position and the elements seen so far.
class Parser {
 public:
  Parser(std::string_view in, const ParseOptions& options) : in_(in), options_(options) {}

  Result<Node> Run();

 private:
  Status Error(std::string_view what) const {
    return InvalidArgument("xml: " + std::string(what) + " at byte " + std::to_string(pos_));
  }
  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return in_[pos_]; }
  bool LookingAt(std::string_view s) const { return in_.substr(pos_).starts_with(s); }
  bool SkipSpace() {
    const size_t start = pos_;
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
    return pos_ != start;
  }

  // The Parse* functions taking `out` append what they read to it.
  Status ParseDeclaration();
  Result<PseudoAttribute> ParsePseudoAttribute();
  Status ParseMisc();
  Status ParseComment();
  Status ParseCData(std::string& out);
  Result<std::string_view> ParseName();
  Result<StartTag> ParseStartTag();
  Status ParseAttribute(Node& node);
  Status ParseEndTag(const Node& node);
  Status ParseReference(std::string& out);
  Status ParseCharRef(std::string& out);
  Status ParseCharData(std::string& out);
  Result<Node> ParseRoot();

  std::string_view in_;
  const ParseOptions& options_;
  size_t pos_ = 0;
  size_t elements_ = 0;
};

Result<Node> Parser::Run() {
  if (in_.size() > options_.body_bytes_max) {
    return InvalidArgument("xml: body of " + std::to_string(in_.size()) + " bytes exceeds " +
                           std::to_string(options_.body_bytes_max));
  }
  if (in_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // byte order mark
  if (const size_t bad = FindInvalidChar(in_); bad != kNpos) {
    pos_ = bad;
    return Error("invalid UTF-8 or character not allowed in XML");
  }
  if (LookingAt("<?xml") && pos_ + 5 < in_.size() && IsSpace(in_[pos_ + 5])) {
    RETURN_IF_ERROR(ParseDeclaration());
  }
  RETURN_IF_ERROR(ParseMisc());
  if (AtEnd() || Peek() != '<') return Error("expected the root element");
  ASSIGN_OR_RETURN(Node root, ParseRoot());
  RETURN_IF_ERROR(ParseMisc());
  if (!AtEnd()) return Error("content after the root element");
  return root;
}

// <?xml version="1.0" encoding="UTF-8" standalone="yes"?>, each part in this order, the last
// two optional. Only UTF-8 is accepted: the body is read as UTF-8 whatever it says.
Status Parser::ParseDeclaration() {
  pos_ += 5;
  static constexpr std::string_view kOrder[] = {"version", "encoding", "standalone"};
  size_t next = 0;  // index into kOrder of the first pseudo-attribute still allowed
  while (true) {
    const bool space = SkipSpace();
    if (LookingAt("?>")) break;
    if (!space) return Error("malformed XML declaration");
    ASSIGN_OR_RETURN(const PseudoAttribute attribute, ParsePseudoAttribute());
    const std::string_view name = attribute.name;
    const std::string_view value = attribute.value;
    size_t k = next;
    while (k < std::size(kOrder) && kOrder[k] != name) ++k;
    if (k == std::size(kOrder) || (next == 0 && k != 0)) {
      return Error("malformed XML declaration");
    }
    next = k + 1;
    if (name == "version" && !(value.size() >= 3 && value.starts_with("1.") &&
                               value.find_first_not_of("0123456789", 2) == kNpos)) {
      return Error("unsupported XML version");
    }
    if (name == "encoding" && !EqualsIgnoreAsciiCase(value, "utf-8")) {
      return Error("unsupported encoding");
    }
    if (name == "standalone" && value != "yes" && value != "no") {
      return Error("malformed XML declaration");
    }
  }
  if (next == 0) return Error("XML declaration without version");
  pos_ += 2;
  return Status::Ok();
}

Result<PseudoAttribute> Parser::ParsePseudoAttribute() {
  const size_t start = pos_;
  while (!AtEnd() && Peek() >= 'a' && Peek() <= 'z') ++pos_;
  const std::string_view name = in_.substr(start, pos_ - start);
  SkipSpace();
  if (AtEnd() || Peek() != '=') return Error("malformed XML declaration");
  ++pos_;
  SkipSpace();
  if (AtEnd() || (Peek() != '"' && Peek() != '\'')) return Error("malformed XML declaration");
  const char quote = Peek();
  const size_t end = in_.find(quote, pos_ + 1);
  if (end == kNpos) return Error("malformed XML declaration");
  const std::string_view value = in_.substr(pos_ + 1, end - pos_ - 1);
  pos_ = end + 1;
  return PseudoAttribute{name, value};
}

// Whitespace and comments, before or after the root element.
Status Parser::ParseMisc() {
  while (true) {
    SkipSpace();
    if (LookingAt("<!--")) {
      RETURN_IF_ERROR(ParseComment());
    } else if (LookingAt("<?")) {
      return Error("processing instructions are not allowed");
    } else if (LookingAt("<!DOCTYPE")) {
      return Error("DOCTYPE is not allowed");
    } else if (LookingAt("<!")) {
      return Error("markup declarations are not allowed");
    } else {
      return Status::Ok();
    }
  }
}

Status Parser::ParseComment() {
  pos_ += 4;
  const size_t dashes = in_.find("--", pos_);
  if (dashes == kNpos) return Error("unterminated comment");
  pos_ = dashes;
  if (dashes + 2 >= in_.size() || in_[dashes + 2] != '>') return Error("'--' inside a comment");
  pos_ = dashes + 3;
  return Status::Ok();
}

// Appends `raw` to `out` with XML line-end normalization: CR LF and a lone CR become LF.
void AppendNormalized(std::string_view raw, std::string& out) {
  size_t cr;
  while ((cr = raw.find('\r')) != kNpos) {
    out.append(raw.substr(0, cr));
    out.push_back('\n');
    raw.remove_prefix(cr + 1 < raw.size() && raw[cr + 1] == '\n' ? cr + 2 : cr + 1);
  }
  out.append(raw);
}

Status Parser::ParseCData(std::string& out) {
  pos_ += 9;  // <![CDATA[
  const size_t end = in_.find("]]>", pos_);
  if (end == kNpos) return Error("unterminated CDATA section");
  AppendNormalized(in_.substr(pos_, end - pos_), out);
  pos_ = end + 3;
  return Status::Ok();
}

Result<std::string_view> Parser::ParseName() {
  const size_t start = pos_;
  if (AtEnd() || !IsNameStart(Peek())) return Error("expected a name");
  ++pos_;
  while (!AtEnd() && IsNameChar(Peek())) ++pos_;
  if (pos_ - start > options_.name_bytes_max) {
    pos_ = start;
    return Error("name too long");
  }
  return in_.substr(start, pos_ - start);
}

// Parses from '<' through '>' or "/>".
Result<StartTag> Parser::ParseStartTag() {
  if (++elements_ > options_.elements_max) return Error("too many elements");
  ++pos_;
  ASSIGN_OR_RETURN(std::string_view qname, ParseName());
  const std::optional<QName> split = SplitQName(qname);
  if (!split) return Error("malformed element name");
  StartTag tag{Node{}, false};
  tag.node.prefix = split->prefix;
  tag.node.name = split->local;
  while (true) {
    const bool space = SkipSpace();
    if (AtEnd()) return Error("unterminated start tag");
    if (Peek() == '>') {
      ++pos_;
      return tag;
    }
    if (LookingAt("/>")) {
      pos_ += 2;
      tag.empty = true;
      return tag;
    }
    if (!space) return Error("malformed attribute");
    RETURN_IF_ERROR(ParseAttribute(tag.node));
  }
}

Status Parser::ParseAttribute(Node& node) {
  const size_t start = pos_;
  ASSIGN_OR_RETURN(std::string_view name, ParseName());
  if (!SplitQName(name)) return Error("malformed attribute name");
  for (const Attribute& a : node.attributes) {
    if (a.name == name) {
      pos_ = start;
      return Error("duplicate attribute");
    }
  }
  if (node.attributes.size() >= options_.attributes_per_element_max) {
    pos_ = start;
    return Error("too many attributes");
  }
  SkipSpace();
  if (AtEnd() || Peek() != '=') return Error("malformed attribute");
  ++pos_;
  SkipSpace();
  if (AtEnd() || (Peek() != '"' && Peek() != '\'')) return Error("malformed attribute");
  const char quote = Peek();
  ++pos_;
  std::string value;
  while (true) {
    if (AtEnd()) return Error("unterminated attribute value");
    const char c = Peek();
    if (c == quote) break;
    if (c == '<') return Error("'<' in attribute value");
    if (c == '&') {
      RETURN_IF_ERROR(ParseReference(value));
      continue;
    }
    // Attribute-value normalization: each literal whitespace character, or CR LF, is a space.
    if (c == '\r' && pos_ + 1 < in_.size() && in_[pos_ + 1] == '\n') ++pos_;
    value.push_back(IsSpace(c) ? ' ' : c);
    ++pos_;
  }
  ++pos_;
  node.attributes.push_back(Attribute{std::string(name), std::move(value)});
  return Status::Ok();
}

// Parses "</qname S? >" and checks that it closes `node`.
Status Parser::ParseEndTag(const Node& node) {
  const size_t start = pos_;
  pos_ += 2;
  ASSIGN_OR_RETURN(std::string_view qname, ParseName());
  const std::optional<QName> split = SplitQName(qname);
  if (!split || split->prefix != node.prefix || split->local != node.name) {
    pos_ = start;
    return Error("mismatched end tag");
  }
  SkipSpace();
  if (AtEnd() || Peek() != '>') return Error("malformed end tag");
  ++pos_;
  return Status::Ok();
}

// Parses "&...;" and appends what it stands for. Only the five predefined entities exist:
// without a DTD nothing can define another.
Status Parser::ParseReference(std::string& out) {
  ++pos_;
  if (!AtEnd() && Peek() == '#') return ParseCharRef(out);
  const size_t start = pos_;
  while (!AtEnd() && pos_ - start <= 4 && IsNameChar(Peek())) ++pos_;
  const std::string_view name = in_.substr(start, pos_ - start);
  if (AtEnd() || Peek() != ';') {
    pos_ = start - 1;
    return Error("malformed or undefined entity reference");
  }
  char c;
  if (name == "lt") {
    c = '<';
  } else if (name == "gt") {
    c = '>';
  } else if (name == "amp") {
    c = '&';
  } else if (name == "apos") {
    c = '\'';
  } else if (name == "quot") {
    c = '"';
  } else {
    pos_ = start - 1;
    return Error("undefined entity");
  }
  ++pos_;
  out.push_back(c);
  return Status::Ok();
}

// "&#123;" or "&#x7B;", the '&' already consumed.
Status Parser::ParseCharRef(std::string& out) {
  const size_t start = pos_ - 1;
  ++pos_;
  const bool hex = !AtEnd() && Peek() == 'x';
  if (hex) ++pos_;
  uint32_t cp = 0;
  size_t digits = 0;
  while (!AtEnd()) {
    const char c = Peek();
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint32_t>(c - '0');
    } else if (hex && c >= 'a' && c <= 'f') {
      d = static_cast<uint32_t>(c - 'a' + 10);
    } else if (hex && c >= 'A' && c <= 'F') {
      d = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      break;
    }
    cp = cp * (hex ? 16 : 10) + d;
    ++digits;
    ++pos_;
    if (cp > 0x10FFFF) break;  // stops before the value could overflow
  }
  if (digits == 0 || AtEnd() || Peek() != ';') {
    pos_ = start;
    return Error("malformed character reference");
  }
  if (!IsXmlChar(cp)) {
    pos_ = start;
    return Error("character reference to a character not allowed in XML");
  }
  ++pos_;
  AppendUtf8(cp, out);
  return Status::Ok();
}

// Character data up to the next '<' or '&'.
Status Parser::ParseCharData(std::string& out) {
  size_t end = in_.find_first_of("<&", pos_);
  if (end == kNpos) end = in_.size();
  const std::string_view raw = in_.substr(pos_, end - pos_);
  if (const size_t bad = raw.find("]]>"); bad != kNpos) {
    pos_ += bad;
    return Error("']]>' in text");
  }
  AppendNormalized(raw, out);
  pos_ = end;
  return Status::Ok();
}

// Parses the root element and everything inside it. No recursion, so depth_max bounds memory
// and not the stack: `open` holds the elements whose end tag is still to come, the root first.
Result<Node> Parser::ParseRoot() {
  ASSIGN_OR_RETURN(StartTag root, ParseStartTag());
  if (root.empty) return std::move(root.node);
  std::vector<Node> open;
  open.push_back(std::move(root.node));
  while (true) {
    if (AtEnd()) {
      return Error("unclosed element <" + open.back().name + ">");
    }
    Node& current = open.back();
    if (Peek() != '<') {
      RETURN_IF_ERROR(Peek() == '&' ? ParseReference(current.text) : ParseCharData(current.text));
    } else if (LookingAt("</")) {
      RETURN_IF_ERROR(ParseEndTag(current));
      if (open.size() == 1) return std::move(open.back());
      Node done = std::move(open.back());
      open.pop_back();
      open.back().children.push_back(std::move(done));
    } else if (LookingAt("<!--")) {
      RETURN_IF_ERROR(ParseComment());
    } else if (LookingAt("<![CDATA[")) {
      RETURN_IF_ERROR(ParseCData(current.text));
    } else if (LookingAt("<?")) {
      return Error("processing instructions are not allowed");
    } else if (LookingAt("<!")) {
      return Error("markup declarations are not allowed");
    } else {
      if (open.size() >= options_.depth_max) return Error("elements nested too deeply");
      ASSIGN_OR_RETURN(StartTag child, ParseStartTag());
      if (child.empty) {
        current.children.push_back(std::move(child.node));
      } else {
        open.push_back(std::move(child.node));  // `current` dangles from here on
      }
    }
  }
}

}  // namespace

bool IsXmlText(std::string_view text) { return FindInvalidChar(text) == kNpos; }

Result<Node> Parse(std::string_view body, const ParseOptions& options) {
  return Parser(body, options).Run();
}

const Node* Node::Child(std::string_view child_name) const {
  for (const Node& c : children) {
    if (c.name == child_name) return &c;
  }
  return nullptr;
}

std::vector<const Node*> Node::Children(std::string_view child_name) const {
  std::vector<const Node*> found;
  for (const Node& c : children) {
    if (c.name == child_name) found.push_back(&c);
  }
  return found;
}

std::optional<std::string> Node::ChildText(std::string_view child_name) const {
  const Node* c = Child(child_name);
  if (c == nullptr) return std::nullopt;
  return c->text;
}

std::optional<std::string_view> Node::FindAttribute(std::string_view attribute_name) const {
  for (const Attribute& a : attributes) {
    if (a.name == attribute_name) return std::string_view(a.value);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Writer

XmlWriter::XmlWriter() {
  out_.reserve(4096);
  out_.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

void XmlWriter::Open(std::string_view name, std::initializer_list<WriterAttribute> attributes) {
  CHECK(!finished_) << "XmlWriter used after Finish";
  CHECK(!open_.empty() || !root_written_) << "a second root element <" << name << ">";
  root_written_ = true;
  out_.push_back('<');
  out_.append(name);
  for (const WriterAttribute& a : attributes) {
    out_.push_back(' ');
    out_.append(a.name);
    out_.append("=\"");
    AppendEscaped(a.value, kAttribute);
    out_.push_back('"');
  }
  out_.push_back('>');
  open_.emplace_back(name);
}

void XmlWriter::Element(std::string_view name, std::string_view text) {
  CHECK(!finished_) << "XmlWriter used after Finish";
  CHECK(!open_.empty() || !root_written_) << "a second root element <" << name << ">";
  root_written_ = true;
  out_.push_back('<');
  out_.append(name);
  out_.push_back('>');
  AppendEscaped(text, kText);
  out_.append("</");
  out_.append(name);
  out_.push_back('>');
}

void XmlWriter::UintElement(std::string_view name, uint64_t value) {
  Element(name, std::to_string(value));
}

void XmlWriter::BoolElement(std::string_view name, bool value) {
  Element(name, value ? "true" : "false");
}

void XmlWriter::Close() {
  CHECK(!finished_) << "XmlWriter used after Finish";
  CHECK(!open_.empty()) << "XmlWriter::Close with no open element";
  out_.append("</");
  out_.append(open_.back());
  out_.push_back('>');
  open_.pop_back();
}

std::string XmlWriter::Finish() {
  CHECK(!finished_) << "XmlWriter::Finish called twice";
  CHECK(open_.empty()) << "XmlWriter::Finish with <" << open_.back() << "> still open";
  finished_ = true;
  return std::move(out_);
}

void XmlWriter::AppendEscaped(std::string_view text, Context context) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  bool non_ascii = false;
  size_t run = 0;  // start of the bytes not yet appended, which need no escaping
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      non_ascii = true;
      continue;
    }
    std::string_view replacement;
    switch (c) {
      case '&': replacement = "&amp;"; break;
      case '<': replacement = "&lt;"; break;
      case '>': replacement = "&gt;"; break;
      case '"': replacement = "&quot;"; break;
      case '\'': replacement = "&apos;"; break;
      case '\r': replacement = "&#xD;"; break;
      case '\n': if (context == kAttribute) replacement = "&#xA;"; break;
      case '\t': if (context == kAttribute) replacement = "&#x9;"; break;
      default: break;
    }
    if (replacement.empty() && (c >= 0x20 || c == '\n' || c == '\t')) continue;
    out_.append(text.substr(run, i - run));
    run = i + 1;
    if (!replacement.empty()) {
      out_.append(replacement);
      continue;
    }
    // A control character XML 1.0 forbids: written as S3 writes it, and flagged.
    representable_ = false;
    out_.append("&#x");
    if (c >= 0x10) out_.push_back(kHex[c >> 4]);
    out_.push_back(kHex[c & 0xF]);
    out_.push_back(';');
  }
  out_.append(text.substr(run));
  if (non_ascii && representable_ && !IsXmlText(text)) representable_ = false;
}

}  // namespace dase::xml
