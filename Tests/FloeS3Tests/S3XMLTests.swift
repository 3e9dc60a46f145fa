import Floe
@testable import FloeS3
import Testing

/// The small XML reader on the shapes S3 sends, and malformed input (an error, never a crash).
@Suite struct S3XMLTests {
    @Test func readsAListBucketResult() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment -->
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>
              <IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcx+/=</NextContinuationToken>
              <Contents><Key>p/a&amp;b&lt;c&gt;&quot;&apos;&#233;&#x41;</Key><Size>12</Size>
                <LastModified>2024-05-01T12:34:56.789Z</LastModified><ETag>&quot;abc&quot;</ETag></Contents>
              <Contents><Key><![CDATA[p/<raw>]]></Key><Size>0</Size><Owner/></Contents>
            </ListBucketResult>
            """
        let root = try S3XML.parse(Array(xml.utf8))
        #expect(root.name == "ListBucketResult")
        #expect(root.text(of: "IsTruncated") == "true")
        #expect(root.text(of: "NextContinuationToken") == "1ueGcx+/=")
        let contents = root.children("Contents")
        #expect(contents.count == 2)
        #expect(contents[0].text(of: "Key") == "p/a&b<c>\"'éA")
        #expect(contents[0].text(of: "ETag") == "\"abc\"")
        #expect(contents[1].text(of: "Key") == "p/<raw>")
        #expect(contents[1].child("Owner") != nil)
        #expect(S3ObjectStore.parseTimestamp(contents[0].text(of: "LastModified")!) == 1_714_566_896.789)
    }

    /// Whole-second times (S3's, moto's) are moved to the second's end: a listed
    /// object is never older than it is (GC's grace counts from this).
    @Test func listedTimesAreTheLatestTheWriteCanHaveBeen() {
        #expect(S3ObjectStore.modifiedAtLatest("2024-05-01T12:34:56.000Z") == 1_714_566_897)
        #expect(S3ObjectStore.modifiedAtLatest("2024-05-01T12:34:56Z") == 1_714_566_897)
        #expect(S3ObjectStore.modifiedAtLatest("2024-05-01T12:34:56.789Z") == 1_714_566_896.789)
        #expect(S3ObjectStore.modifiedAtLatest("yesterday") == nil)
    }

    @Test func readsAnErrorWithANamespacePrefix() throws {
        let root = try S3XML.parse(Array("<s3:Error a='1>' b=\"/\"><s3:Code>SlowDown</s3:Code><Message>m</Message></s3:Error>".utf8))
        #expect(root.name == "Error" && root.text(of: "Code") == "SlowDown" && root.text(of: "Message") == "m")
    }

    @Test(arguments: ["", "<a>", "<a></b>", "<a><b></a>", "<a>&bogus;</a>", "<a>&#xFFFFFFFF;</a>", "<a x=1></a>",
                      "<a></a><b/>", "text", "<a><!-- open</a>", "<a><![CDATA[x</a>", "<a x=\"1></a>", "<", "<a/", "<a>&amp</a>"])
    func malformedInputIsAnError(xml: String) {
        #expect(throws: S3XML.ParseError.self) { _ = try S3XML.parse(Array(xml.utf8)) }
    }

    @Test func escapesRequestText() {
        #expect(S3XML.escape("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;")
        #expect(S3ObjectStore.base64(Array("hello".utf8)) == "aGVsbG8=")
        #expect(S3ObjectStore.base64([]) == "" && S3ObjectStore.base64([0xFF, 0xFE]) == "//4=")
    }
}
