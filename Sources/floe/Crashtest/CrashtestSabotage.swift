import ArgumentParser

/// Deliberate breaches of the oracle protocol that prove the harness catches them
/// (and one harmless accident it must tolerate). Each but `zombieUnfenced` ends
/// the worker after its first epoch.
enum CrashtestSabotage: String, ExpressibleByArgument, Sendable, CaseIterable {
    /// Acknowledge the first epoch in the oracle without committing it, then stop:
    /// the parent must report a lost committed epoch.
    case lostAck = "lost-ack"
    /// Commit one write the oracle's intent does not list, acknowledge, then stop:
    /// the parent must report the key whose value differs.
    case unloggedWrite = "unlogged-write"
    /// Commit one write early: in the first epoch, though the oracle lists it in the
    /// next epoch's intent; then stop before that epoch commits. The parent must
    /// report the key as partially visible (a later epoch's write shows).
    case earlyWrite = "early-write"
    /// List one write in the first epoch's intent that is never made; commit,
    /// acknowledge, stop. The parent must report the key as partially visible
    /// (a write of the recovered epoch is missing).
    case missingWrite = "missing-write"
    /// Commit and acknowledge the first epoch, record it in the oracle as the
    /// verified base (as the harness's cut does after a clean check), then put the
    /// store's files back as they were before that epoch and stop: the store
    /// recovers below the verified epoch with nothing acknowledged in the
    /// iteration. The parent must report the verified epoch as lost.
    case belowVerified = "below-verified"
    /// Not a breach: commit and acknowledge the first epoch, then leave half of the
    /// next intent record in the oracle, as a kill inside an append would. The
    /// parent must ignore the torn record and pass.
    case tornTail = "torn-tail"
    /// `--zombie` only: the successor does not open the store (it reads the committed
    /// epoch and starts its oracle there, as if it had), so nothing fences the paused
    /// zombie and its commits after the resume really succeed. The parent must report
    /// the zombie's acknowledgements above the takeover epoch.
    case zombieUnfenced = "zombie-unfenced"
}
