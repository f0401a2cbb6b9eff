namespace Snn.Core.Checkpoints;

/// <summary>Why a checkpoint file cannot be used.</summary>
public enum CheckpointProblem
{
    /// <summary>The file is empty, truncated, extended, or its bytes differ from those whose SHA-256 its header records.</summary>
    Damaged,

    /// <summary>The file is a checkpoint of an older format (SNNCKPT1, no content hash) or not a checkpoint of this toolkit.</summary>
    UnsupportedFormat,

    /// <summary>The file is intact but was made for another network (other parameters or shapes) or holds no optimizer state when one was asked for.</summary>
    NetworkMismatch,
}

/// <summary>
/// The errors of checkpoints that exist but cannot be used: <see cref="InvalidDataException"/>s whose
/// message names the file, what was expected, what was found and what the user can do ("delete it to
/// recompute that step"). The parts are also stored in <see cref="Exception.Data"/> under the keys
/// <see cref="PathKey"/>, <see cref="ProblemKey"/>, <see cref="ExpectedKey"/> and <see cref="FoundKey"/>,
/// so a caller can tell the kinds apart (<see cref="ProblemOf"/>) or word its own message. Never raised
/// for an absent file.
/// </summary>
public static class CheckpointError
{
    /// <summary>Key of the checkpoint's path (a string) in <see cref="Exception.Data"/>.</summary>
    public const string PathKey = "CheckpointPath";

    /// <summary>Key of the <see cref="CheckpointProblem"/> in <see cref="Exception.Data"/>.</summary>
    public const string ProblemKey = "CheckpointProblem";

    /// <summary>Key of what a usable file would have held (a string) in <see cref="Exception.Data"/>.</summary>
    public const string ExpectedKey = "CheckpointExpected";

    /// <summary>Key of what the file holds instead (a string) in <see cref="Exception.Data"/>.</summary>
    public const string FoundKey = "CheckpointFound";

    /// <summary>
    /// The exception for a checkpoint that cannot be used; its message is
    /// "&lt;path&gt;: &lt;kind&gt;: expected &lt;expected&gt;, found &lt;found&gt;; &lt;remedy&gt;".
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="problem">What kind of problem it is.</param>
    /// <param name="expected">What a usable file would have held (e.g. "a checkpoint of at least 49 bytes").</param>
    /// <param name="found">What the file holds instead (e.g. "an empty file (0 bytes)").</param>
    /// <param name="inner">The exception that revealed the problem, or null.</param>
    public static InvalidDataException Create(string path, CheckpointProblem problem, string expected, string found, Exception? inner = null)
    {
        var what = problem switch
        {
            CheckpointProblem.Damaged => "damaged checkpoint",
            CheckpointProblem.UnsupportedFormat => "unsupported checkpoint format",
            _ => "checkpoint made for another network",
        };
        var error = new InvalidDataException($"{path}: {what}: expected {expected}, found {found}; {Remedy(problem)}", inner);
        error.Data[PathKey] = path;
        error.Data[ProblemKey] = problem;
        error.Data[ExpectedKey] = expected;
        error.Data[FoundKey] = found;
        return error;
    }

    /// <summary>The problem an exception of <see cref="Create"/> reports, or null for any other exception.</summary>
    /// <param name="error">Any exception.</param>
    public static CheckpointProblem? ProblemOf(Exception error) =>
        error?.Data[ProblemKey] is CheckpointProblem problem ? problem : null;

    /// <summary>What the user can do about a problem, one clause without a final period.</summary>
    /// <param name="problem">The kind of problem.</param>
    public static string Remedy(CheckpointProblem problem) => problem switch
    {
        CheckpointProblem.NetworkMismatch =>
            "delete it to recompute that step, or use another output folder for this network",
        _ => "delete it to recompute that step",
    };
}
