using System.Text.Json;
using Snn.Core.Simulation;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Checkpoints;

/// <summary>Whether a checkpoint file can be used; see <see cref="Checkpoint.Inspect"/>.</summary>
public enum CheckpointState
{
    /// <summary>No file at the path: the step has not been saved yet.</summary>
    Absent,

    /// <summary>The file is intact (length and SHA-256 as its header records).</summary>
    Valid,

    /// <summary>The file exists but cannot be used (damaged, or of an unsupported format).</summary>
    Damaged,
}

/// <summary>The outcome of <see cref="Checkpoint.Inspect"/>.</summary>
/// <param name="Path">The inspected file.</param>
/// <param name="State">Absent, valid or damaged.</param>
/// <param name="Metadata">The metadata JSON when <see cref="CheckpointState.Valid"/>, else null.</param>
/// <param name="Problem">What kind of problem when <see cref="CheckpointState.Damaged"/>, else null.</param>
/// <param name="Error">The exception <see cref="Checkpoint.Load"/> would raise when damaged (its message names the file, what was expected and found, and the remedy), else null.</param>
public sealed record CheckpointInspection(string Path, CheckpointState State, string? Metadata, CheckpointProblem? Problem, InvalidDataException? Error);

/// <summary>
/// Checkpoints of a run, each a JSON metadata string and a body in one verified file: a module's state
/// dictionary with, optionally, its optimizer's state (momentum buffers) (<see cref="Save"/>,
/// <see cref="Load"/>), or a spiking network's learned state (<see cref="SaveSpikingNetwork"/>,
/// <see cref="LoadSpikingNetwork"/>).
/// <para>
/// Writes are atomic (<see cref="AtomicFile"/>: a temporary <c>&lt;file&gt;.&lt;pid&gt;.tmp</c>, flushed,
/// then renamed over the target), so a killed run leaves either the previous checkpoint or the new one.
/// Every file records its payload length and the SHA-256 of its payload (layout in
/// <see cref="CheckpointFormat"/>, format SNNCKPT2), and every read checks both before using a byte:
/// an empty, truncated, extended or overwritten file raises an <see cref="InvalidDataException"/> (see <see cref="CheckpointError"/>) naming the
/// file, what was expected, what was found and what to do ("delete it to recompute that step"). Nothing
/// falls back silently: only a path with no file is "absent".
/// </para>
/// <para>
/// Files of the first format (SNNCKPT1, written before content hashes existed) are refused with
/// <see cref="CheckpointProblem.UnsupportedFormat"/>: their damage cannot be detected, so they are
/// recomputed rather than trusted.
/// </para>
/// </summary>
public static class Checkpoint
{
    /// <summary>Writes <paramref name="module"/> (and <paramref name="optimizer"/> when given) to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Target file; its folder is created when missing.</param>
    /// <param name="module">The module whose parameters and buffers are saved.</param>
    /// <param name="optimizer">Optimizer whose state is saved, or null.</param>
    /// <param name="metadata">Any JSON-serialisable object describing the checkpoint (epoch, metrics, what it was made from).</param>
    public static void Save(string path, nn.Module module, TorchSharp.Modules.OptimizerHelper? optimizer, object metadata)
    {
        ArgumentNullException.ThrowIfNull(module);
        Write(path, metadata, writer =>
        {
            writer.Write(optimizer is not null);
            module.save(writer);
            optimizer?.save_state_dict(writer);
        });
    }

    /// <summary>
    /// Writes the learned state of a spiking network (<see cref="SpikingNetworkState"/>: every synapse's W and
    /// b, theta and v(0), e.g. after Phase II) to <paramref name="path"/> atomically, in the same verified
    /// format as module checkpoints.
    /// </summary>
    /// <param name="path">Target file; its folder is created when missing.</param>
    /// <param name="network">The network whose state is saved (not changed).</param>
    /// <param name="metadata">Any JSON-serialisable object describing the state (step, T, what it was made from).</param>
    public static void SaveSpikingNetwork(string path, SpikingNetwork network, object metadata)
    {
        ArgumentNullException.ThrowIfNull(network);
        Write(path, metadata, writer => SpikingNetworkState.Save(network, writer));
    }

    /// <summary>
    /// Verifies the file at <paramref name="path"/> (length and SHA-256), reads a state written by
    /// <see cref="SaveSpikingNetwork"/> into <paramref name="network"/> and returns its metadata JSON. A state
    /// that does not match the network leaves the network unchanged.
    /// </summary>
    /// <param name="path">A file written by <see cref="SaveSpikingNetwork"/>.</param>
    /// <param name="network">A network built the same way as the saved one (same layers, inputs, shapes and dtype).</param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">
    /// (made by <see cref="CheckpointError"/>) The file is damaged, of an unsupported format, or holds the state of
    /// another network (<see cref="CheckpointProblem.NetworkMismatch"/>).
    /// </exception>
    public static string LoadSpikingNetwork(string path, SpikingNetwork network)
    {
        ArgumentNullException.ThrowIfNull(network);
        using var stream = OpenVerified(path);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var metadata = reader.ReadString();
        try
        {
            SpikingNetworkState.Load(network, reader, path);
        }
        catch (InvalidDataException e)
        {
            throw CheckpointError.Create(
                path, CheckpointProblem.NetworkMismatch, $"the state of this spiking network ({network.Layers.Count} layers)", e.Message, e);
        }

        return metadata;
    }

    /// <summary>
    /// Verifies the checkpoint at <paramref name="path"/> (length and SHA-256), reads it into
    /// <paramref name="module"/> (and <paramref name="optimizer"/> when given) and returns its metadata JSON.
    /// </summary>
    /// <param name="path">A file written by <see cref="Save"/>.</param>
    /// <param name="module">A module of the same architecture (same state names, dtypes and shapes).</param>
    /// <param name="optimizer">
    /// Optimizer to restore, or null to skip a stored optimizer state. When given, the file must hold one.
    /// </param>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">
    /// (made by <see cref="CheckpointError"/>) The file is damaged or of an unsupported format (nothing was read into the module), or it was made for
    /// another network or holds no optimizer state (<see cref="CheckpointProblem.NetworkMismatch"/>; the module
    /// may then be partly overwritten).
    /// </exception>
    public static string Load(string path, nn.Module module, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var stream = OpenVerified(path);
        using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        var metadata = reader.ReadString();
        var hasOptimizer = reader.ReadBoolean();
        if (optimizer is not null && !hasOptimizer)
        {
            throw CheckpointError.Create(path, CheckpointProblem.NetworkMismatch, "an optimizer state (asked for by the caller)", "a checkpoint saved without one");
        }

        try
        {
            LoadState(module, reader);
            if (hasOptimizer && optimizer is not null)
            {
                optimizer.load_state_dict(reader);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EndOfStreamException or IOException)
        {
            throw CheckpointError.Create(
                path, CheckpointProblem.NetworkMismatch, $"the parameters and buffers of the given {module.GetType().Name} (same names, dtypes and shapes)", e.Message, e);
        }

        return metadata;
    }

    /// <summary>
    /// Reads a state written by <c>Module.save</c> (an LEB128 entry count, then per entry its name and tensor) into
    /// the module's own parameters and buffers, in place: values are copied to wherever the tensors live. Every
    /// name must be the module's and the count must match (strict). TorchSharp's <c>Module.load</c> moves a module
    /// on another device to the CPU and back, which replaces its parameter objects: an optimizer made before the
    /// load would then hold the old, disposed ones.
    /// </summary>
    private static void LoadState(nn.Module module, BinaryReader reader)
    {
        var state = module.state_dict();
        var entries = ReadUnsignedLeb128(reader);
        if (entries != state.Count)
        {
            throw new ArgumentException($"Mismatched state_dict sizes: expected {state.Count}, but found {entries} entries.");
        }

        for (var i = 0L; i < entries; i++)
        {
            var name = reader.ReadString();
            if (!state.TryGetValue(name, out var tensor))
            {
                throw new ArgumentException($"Mismatched module state names: the target module has no parameter or buffer named '{name}'");
            }

            tensor.Load(reader);
        }
    }

    /// <summary>An unsigned LEB128 integer (7 bits per byte, low first; the high bit marks a following byte), as TorchSharp writes counts.</summary>
    private static long ReadUnsignedLeb128(BinaryReader reader)
    {
        long result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            long b = reader.ReadByte();
            result |= (b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }

        throw new InvalidDataException("an entry count longer than 64 bits (damaged data)");
    }

    /// <summary>
    /// The metadata JSON of the checkpoint at <paramref name="path"/> after verifying the whole file, or null
    /// when there is no file. A file that exists but cannot be used is never reported as absent.
    /// </summary>
    /// <param name="path">A file written by <see cref="Save"/>, or a path where none exists yet.</param>
    /// <exception cref="InvalidDataException">(made by <see cref="CheckpointError"/>) The file exists but is damaged or of an unsupported format.</exception>
    public static string? ReadMetadata(string path)
    {
        var inspection = Inspect(path);
        return inspection.State switch
        {
            CheckpointState.Absent => null,
            CheckpointState.Valid => inspection.Metadata,
            _ => throw inspection.Error!,
        };
    }

    /// <summary>
    /// Whether the file at <paramref name="path"/> is absent, valid (then its metadata) or damaged (then the
    /// problem, as <see cref="Load"/> would raise it), without throwing for damage: for a status listing of
    /// a run folder.
    /// </summary>
    /// <param name="path">Any path.</param>
    public static CheckpointInspection Inspect(string path)
    {
        if (!File.Exists(path))
        {
            return new CheckpointInspection(path, CheckpointState.Absent, null, null, null);
        }

        try
        {
            using var stream = OpenVerified(path);
            using var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            return new CheckpointInspection(path, CheckpointState.Valid, reader.ReadString(), null, null);
        }
        catch (InvalidDataException e) when (CheckpointError.ProblemOf(e) is { } problem)
        {
            return new CheckpointInspection(path, CheckpointState.Damaged, null, problem, e);
        }
        catch (FileNotFoundException)
        {
            // Removed between the check and the open.
            return new CheckpointInspection(path, CheckpointState.Absent, null, null, null);
        }
    }

    /// <summary>Writes header, metadata and body atomically; the header is sealed with the payload's length and SHA-256.</summary>
    private static void Write(string path, object metadata, Action<BinaryWriter> body)
    {
        var json = JsonSerializer.Serialize(metadata);
        AtomicFile.Write(path, stream =>
        {
            CheckpointFormat.WritePlaceholder(stream);
            byte[] digest;
            long written;
            using (var hashing = new HashingStream(stream))
            using (var writer = new BinaryWriter(hashing, System.Text.Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(json);
                body(writer);
                writer.Flush();
                digest = hashing.Digest();
                written = hashing.Written;
            }

            CheckpointFormat.Seal(stream, written, digest);
        });
    }

    /// <summary>Opens the file, verifies it, and returns the stream at the start of the payload.</summary>
    private static FileStream OpenVerified(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        try
        {
            CheckpointFormat.Verify(stream, path);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }
}
