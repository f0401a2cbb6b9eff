using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Checkpoints;

/// <summary>
/// Checkpoints of a training run: the module's state dictionary, optionally the optimizer's
/// state (momentum buffers), and a JSON metadata string, in one file written atomically
/// (written to a temporary file in the same folder, flushed, then renamed over the target), so a
/// killed run leaves either the previous checkpoint or the new one, never a torn file.
/// File layout: magic "SNNCKPT1", metadata (length-prefixed UTF-8 JSON), a flag byte for the
/// optimizer state, the module state, then the optimizer state.
/// </summary>
public static class Checkpoint
{
    private const string Magic = "SNNCKPT1";

    /// <summary>Writes <paramref name="module"/> (and <paramref name="optimizer"/> when given) to <paramref name="path"/> atomically.</summary>
    /// <param name="path">Target file; its folder is created when missing.</param>
    /// <param name="module">The module whose parameters and buffers are saved.</param>
    /// <param name="optimizer">Optimizer whose state is saved, or null.</param>
    /// <param name="metadata">Any JSON-serialisable object describing the checkpoint (epoch, metrics...).</param>
    public static void Save(string path, nn.Module module, TorchSharp.Modules.OptimizerHelper? optimizer, object metadata)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = full + $".{Environment.ProcessId}.tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(Magic);
            writer.Write(JsonSerializer.Serialize(metadata));
            writer.Write(optimizer is not null);
            module.save(writer);
            optimizer?.save_state_dict(writer);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>
    /// Reads the checkpoint at <paramref name="path"/> into <paramref name="module"/> (and the
    /// optimizer when given and stored) and returns its metadata JSON.
    /// </summary>
    /// <param name="path">A file written by <see cref="Save"/>.</param>
    /// <param name="module">A module of the same architecture.</param>
    /// <param name="optimizer">Optimizer to restore, or null.</param>
    /// <exception cref="InvalidDataException">The file is not a checkpoint, or it does not match the module.</exception>
    public static string Load(string path, nn.Module module, TorchSharp.Modules.OptimizerHelper? optimizer)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        string magic;
        try
        {
            magic = reader.ReadString();
        }
        catch (EndOfStreamException)
        {
            magic = "";
        }

        if (magic != Magic)
        {
            throw new InvalidDataException($"{path}: not a checkpoint of this toolkit (expected the header {Magic})");
        }

        var metadata = reader.ReadString();
        var hasOptimizer = reader.ReadBoolean();
        try
        {
            module.load(reader, strict: true);
            if (hasOptimizer && optimizer is not null)
            {
                optimizer.load_state_dict(reader);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or EndOfStreamException or IOException)
        {
            throw new InvalidDataException($"{path}: the checkpoint does not match the network ({e.Message})", e);
        }

        return metadata;
    }

    /// <summary>Reads only the metadata JSON of a checkpoint, or null when the file is absent or not a checkpoint.</summary>
    /// <param name="path">A file written by <see cref="Save"/>.</param>
    public static string? ReadMetadata(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        try
        {
            return reader.ReadString() == Magic ? reader.ReadString() : null;
        }
        catch (EndOfStreamException)
        {
            return null;
        }
    }
}
