// A small XML 1.0 reader and writer for protocol bodies (S3 requests and responses).
//
// The reader parses a whole in-memory document into a tree of Nodes. It accepts what S3 clients
// send: an XML declaration, comments, whitespace, CDATA sections, the five predefined entities
// and numeric character references. It rejects everything that makes XML dangerous or
// ambiguous: any DOCTYPE or other markup declaration (so no internal or external entities, no
// expansion bombs), undefined entities, processing instructions other than the leading
// declaration, text that is not UTF-8 or holds characters XML 1.0 forbids, and anything after
// the root element but comments and whitespace. Every size a client controls is bounded by
// ParseOptions. Errors are InvalidArgument with a short message ("xml: ... at byte N"); the S3
// server answers them with MalformedXML.
//
// Namespaces are reduced to what S3 needs: a Node's name is its local name (the part after
// "prefix:"), so <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"> and <s3:Delete ...>
// both read as "Delete". Prefixes are kept but not resolved; xmlns attributes are kept as
// ordinary attributes.
//
// The writer builds compact documents such as S3's responses in one growing string.
//
// Thread-safety: Parse is a pure function. Node and XmlWriter are values without internal
// synchronization; distinct objects may be used from distinct threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dase::xml {

// The default namespace of every S3 request and response body.
inline constexpr std::string_view kS3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// Returns true when `text` is valid UTF-8 and every character in it is allowed by XML 1.0
// (tab, LF, CR, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF). Text failing this cannot
// travel in an XML 1.0 document at all, not even as a character reference; S3 clients ask for
// such object keys with encoding-type=url.
bool IsXmlText(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Reader

struct Attribute {
  std::string name;   // as written, prefix included ("xmlns", "xsi:type")
  std::string value;  // references replaced, whitespace normalized as XML 1.0 requires
};

// One element. `text` is all character data directly inside it (CDATA included, references
// replaced, line ends normalized to LF), concatenated in document order; for an element that
// holds children it is usually just the indentation between them. Text is never trimmed: an
// S3 key may begin or end with spaces.
struct Node {
  std::string name;    // local name, prefix stripped
  std::string prefix;  // namespace prefix as written, "" for none
  std::vector<Attribute> attributes;
  std::string text;
  std::vector<Node> children;

  // The first child with local name `name`, or nullptr.
  const Node* Child(std::string_view name) const;
  // Every child with local name `name`, in document order.
  std::vector<const Node*> Children(std::string_view name) const;
  // The text of the first child named `name`, or nullopt if there is no such child.
  std::optional<std::string> ChildText(std::string_view name) const;
  // The value of the attribute written as `name` (prefix included), or nullopt.
  std::optional<std::string_view> FindAttribute(std::string_view name) const;
};

struct ParseOptions {
  // The whole body, declaration and comments included.
  size_t body_bytes_max = 4 * 1024 * 1024;
  // Nesting depth; the root element is at depth 1.
  size_t depth_max = 32;
  // Elements in the document, the root included. DeleteObjects carries up to 1000 objects of
  // 2-3 elements each.
  size_t elements_max = 20'000;
  // Element and attribute names, prefix included.
  size_t name_bytes_max = 256;
  size_t attributes_per_element_max = 32;
};

// Parses `body` and returns its root element.
Result<Node> Parse(std::string_view body, const ParseOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Writer

struct WriterAttribute {
  std::string_view name;
  std::string_view value;
};

// Builds a document that starts with `<?xml version="1.0" encoding="UTF-8"?>` and a newline,
// followed by compact elements (no indentation), as S3 writes them:
//
//   XmlWriter w;
//   w.Open("ListBucketResult", {{"xmlns", kS3Namespace}});
//   w.Element("Name", bucket);
//   w.Close();
//   std::string body = w.Finish();
//
// Text and attribute values are escaped: & < > " ' become &amp; &lt; &gt; &quot; &apos;, CR
// becomes &#xD; (a literal CR would be read back as LF), and in attribute values tab and LF
// become &#x9; &#xA; (a literal one would be read back as a space). Element and attribute names
// come from code, not clients, and are written as given.
//
// Text that XML 1.0 cannot carry (see IsXmlText) is still written, never dropped: control
// characters as &#xN; references, as S3 itself does, other bytes unchanged. The result is then
// not a well-formed XML 1.0 document, and representable() turns false so the caller can tell.
// Callers that must guarantee a well-formed response check keys with IsXmlText first, or
// URL-encode them (encoding-type=url).
//
// Misuse (Close with nothing open, Finish with elements open, use after Finish) is a programmer
// error and CHECK-fails.
class XmlWriter {
 public:
  XmlWriter();

  // Writes a start tag and makes it the current element.
  void Open(std::string_view name, std::initializer_list<WriterAttribute> attributes = {});
  // Writes <name>text</name> inside the current element.
  void Element(std::string_view name, std::string_view text);
  void UintElement(std::string_view name, uint64_t value);
  // Writes "true" or "false", as S3 does for IsTruncated and the like.
  void BoolElement(std::string_view name, bool value);
  // Writes the end tag of the current element.
  void Close();
  // Returns the document; every opened element must have been closed.
  std::string Finish();

  // False once any text or attribute value written failed IsXmlText.
  bool representable() const { return representable_; }

 private:
  enum Context { kText, kAttribute };
  void AppendEscaped(std::string_view text, Context context);

  std::string out_;
  std::vector<std::string> open_;  // names of the elements opened and not yet closed
  bool root_written_ = false;
  bool representable_ = true;
  bool finished_ = false;
};

}  // namespace dase::xml
