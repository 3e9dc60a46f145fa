/// What a `DiskCachedObjectStore` knows of its entry files: each one's size and
/// object hash, in least-recently-used order, and the total size.
///
/// Not thread-safe: the store keeps it under its lock. Invariants: `totalBytes`
/// is the sum of the sizes of the entries held; every entry is in exactly one
/// place of the recency list and in the set of its object hash; all operations
/// are O(1) but `removeAll(objectHash:)` (O(entries of that object)) and
/// `evict` (O(entries evicted)).
struct DiskCacheIndex {
    private struct Node {
        var name: String
        var objectHash: UInt64
        var bytes: Int
        var newer: Int?
        var older: Int?
    }

    private var nodes: [Int: Node] = [:]
    private var ids: [String: Int] = [:]
    private var byObject: [UInt64: Set<Int>] = [:]
    /// Most and least recently used.
    private var newest: Int?
    private var oldest: Int?
    private var nextID = 0
    private(set) var totalBytes = 0

    var count: Int { nodes.count }

    func contains(_ name: String) -> Bool { ids[name] != nil }

    /// Marks `name` most recently used. Returns whether it is held.
    mutating func touch(_ name: String) -> Bool {
        guard let id = ids[name] else { return false }
        unlink(id)
        pushNewest(id)
        return true
    }

    /// Adds `name` as most recently used, or updates its size and marks it used.
    mutating func insert(_ name: String, objectHash: UInt64, bytes: Int) {
        if let id = ids[name] {
            totalBytes += bytes - nodes[id]!.bytes
            nodes[id]!.bytes = bytes
            unlink(id)
            pushNewest(id)
            return
        }
        let id = nextID
        nextID += 1
        nodes[id] = Node(name: name, objectHash: objectHash, bytes: bytes)
        ids[name] = id
        byObject[objectHash, default: []].insert(id)
        totalBytes += bytes
        pushNewest(id)
    }

    /// Forgets `name`. Returns whether it was held.
    @discardableResult
    mutating func remove(_ name: String) -> Bool {
        guard let id = ids[name] else { return false }
        drop(id)
        return true
    }

    /// Forgets every entry of the object with `objectHash`; returns their names.
    mutating func removeAll(objectHash: UInt64) -> [String] {
        guard let set = byObject[objectHash] else { return [] }
        let names = set.map { nodes[$0]!.name }
        for id in set { drop(id) }
        return names
    }

    /// Forgets least recently used entries until `totalBytes <= capacity`; returns their names.
    mutating func evict(toFit capacity: Int) -> [String] {
        var victims: [String] = []
        while totalBytes > capacity, let id = oldest {
            victims.append(nodes[id]!.name)
            drop(id)
        }
        return victims
    }

    private mutating func drop(_ id: Int) {
        let node = nodes[id]!
        unlink(id)
        nodes[id] = nil
        ids[node.name] = nil
        byObject[node.objectHash]?.remove(id)
        if byObject[node.objectHash]?.isEmpty == true { byObject[node.objectHash] = nil }
        totalBytes -= node.bytes
    }

    private mutating func unlink(_ id: Int) {
        let node = nodes[id]!
        if let n = node.newer { nodes[n]!.older = node.older } else { newest = node.older }
        if let o = node.older { nodes[o]!.newer = node.newer } else { oldest = node.newer }
        nodes[id]!.newer = nil
        nodes[id]!.older = nil
    }

    private mutating func pushNewest(_ id: Int) {
        nodes[id]!.older = newest
        nodes[id]!.newer = nil
        if let n = newest { nodes[n]!.newer = id }
        newest = id
        if oldest == nil { oldest = id }
    }
}
