/// One Nexmark stream's rows by stream index: the k-th person, auction or bid is
/// global event `NexmarkEvents.event(k, of: stream)`. Appending a row allocates
/// nothing once the chunk's and the scratch row's buffers have grown.
struct NexmarkRows: StridedRows {
    let generator: NexmarkGenerator
    /// The scratch row every event is generated into.
    private var row: NexmarkRow

    init(generator: NexmarkGenerator, stream: NexmarkStreams.Stream) {
        self.generator = generator
        self.row = NexmarkRow(stream: stream)
    }

    mutating func append(to chunk: inout Chunk, first: UInt64, stride: UInt64, count: Int) {
        let stream = row.stream
        var k = first
        for _ in 0..<count {
            generator.generate(event: NexmarkEvents.event(k, of: stream), into: &row)
            row.append(to: &chunk)
            k += stride
        }
    }
}
