import Floe
import Synchronization

/// The inputs of one operator instance: one bounded queue per input channel.
///
/// The consumer takes messages only from the inputs it allows: an instance that
/// aligns a barrier stops taking from the inputs whose barrier came first, so
/// their queues fill and their senders wait (back-pressure instead of unbounded
/// buffering). A sender waits while its queue holds `capacity` messages.
///
/// One consumer task; one sender per input. Safe to share: all state is under `state`.
public final class Inbox: Sendable {
    private struct State {
        var queues: [[Message]]
        var heads: [Int]
        var consumer: CheckedContinuation<Void, Never>?
        var consumerMask: UInt64 = 0
        var senders: [CheckedContinuation<Void, Never>?]
        var cancelled = false
    }

    public let inputs: Int
    public let capacity: Int
    private let state: Lock<State>

    /// Throws `invalidArgument` above 64 inputs (the allow mask is 64 bits).
    public init(inputs: Int, capacity: Int = 8) throws {
        guard (1...64).contains(inputs) else { throw DataflowError.invalidArgument("an operator takes 1 to 64 inputs, not \(inputs)") }
        self.inputs = inputs
        self.capacity = max(1, capacity)
        state = Lock(State(queues: Array(repeating: [], count: inputs), heads: Array(repeating: 0, count: inputs),
                            senders: Array(repeating: nil, count: inputs)))
    }

    /// Queues `message` on `input`, waiting while that queue is full.
    /// Throws `DataflowError.cancelled` once the inbox was cancelled.
    public func send(_ message: Message, input: Int) async throws {
        while true {
            enum Step { case done, wait, cancelled }
            var wake: CheckedContinuation<Void, Never>?
            let step: Step = state.withLock { s in
                if s.cancelled { return .cancelled }
                if s.queues[input].count - s.heads[input] >= capacity { return .wait }
                s.queues[input].append(message)
                if let c = s.consumer, s.consumerMask & (1 << UInt64(input)) != 0 {
                    s.consumer = nil
                    wake = c
                }
                return .done
            }
            wake?.resume()
            switch step {
            case .done: return
            case .cancelled: throw DataflowError.cancelled
            case .wait:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now: Bool = state.withLock { s in
                        if s.cancelled || s.queues[input].count - s.heads[input] < capacity { return true }
                        s.senders[input] = c
                        return false
                    }
                    if now { c.resume() }
                }
            }
        }
    }

    /// The next message from one of the inputs in `allowed` (bit i = input i),
    /// taking the inputs in turn so none starves. Waits while they are all empty.
    /// Throws `DataflowError.cancelled` once the inbox was cancelled.
    public func receive(allowed: UInt64, after last: Int) async throws -> (input: Int, message: Message) {
        while true {
            var wake: CheckedContinuation<Void, Never>?
            let got: (Int, Message)?? = state.withLock { s in
                if s.cancelled { return .some(nil) }
                for k in 1...inputs {
                    let i = (last + k) % inputs
                    guard allowed & (1 << UInt64(i)) != 0, s.heads[i] < s.queues[i].count else { continue }
                    let m = s.queues[i][s.heads[i]]
                    s.heads[i] += 1
                    if s.heads[i] == s.queues[i].count {
                        s.queues[i].removeAll(keepingCapacity: true)
                        s.heads[i] = 0
                    } else if s.heads[i] >= 64 {
                        s.queues[i].removeFirst(s.heads[i])
                        s.heads[i] = 0
                    }
                    if let c = s.senders[i] {
                        s.senders[i] = nil
                        wake = c
                    }
                    return .some((i, m))
                }
                return nil
            }
            wake?.resume()
            switch got {
            case let .some(.some(r)): return r
            case .some(.none): throw DataflowError.cancelled
            case .none:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now: Bool = state.withLock { s in
                        if s.cancelled { return true }
                        for i in 0..<inputs where allowed & (1 << UInt64(i)) != 0 && s.heads[i] < s.queues[i].count { return true }
                        s.consumer = c
                        s.consumerMask = allowed
                        return false
                    }
                    if now { c.resume() }
                }
            }
        }
    }

    /// Wakes every waiter; later sends and receives throw `cancelled`.
    public func cancel() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { s in
            s.cancelled = true
            var w = s.senders.compactMap { $0 }
            if let c = s.consumer { w.append(c) }
            s.consumer = nil
            s.senders = Array(repeating: nil, count: inputs)
            return w
        }
        for w in waiters { w.resume() }
    }
}
