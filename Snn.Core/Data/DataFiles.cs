using System.IO.Compression;

namespace Snn.Core.Data;

/// <summary>File helpers shared by the readers: raw-or-gzip reading and "name or name.gz" lookup.</summary>
internal static class DataFiles
{
    /// <summary>Reads a whole file; when it starts with the gzip magic bytes 1f 8b it is decompressed.</summary>
    public static byte[] ReadAllBytes(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFileException(path, $"cannot be read ({e.Message})", e);
        }

        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b)
        {
            return raw;
        }

        try
        {
            using var input = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream(raw.Length * 4);
            input.CopyTo(output);

            // The gzip trailer's last 4 bytes hold the uncompressed size mod 2^32 (little-endian); a stream cut
            // short decompresses without error in .NET, so compare the two.
            var recorded = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4));
            if (raw.Length < 18 || (uint)output.Length != recorded)
            {
                throw new DataFileException(
                    path,
                    $"is not a complete gzip stream: it decompressed to {output.Length} bytes but its trailer records {recorded}; expected a whole gzip file (re-copy or re-install it)");
            }

            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DataFileException(path, $"is not a complete gzip stream ({e.Message}): expected a gzip-compressed file that decompresses fully", e);
        }
    }

    /// <summary>The path of <paramref name="name"/> or <paramref name="name"/>.gz in the folder, or null.</summary>
    public static string? Find(string folder, string name)
    {
        var plain = Path.Combine(folder, name);
        if (File.Exists(plain))
        {
            return plain;
        }

        var gz = plain + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>Like <see cref="Find"/> but throws a <see cref="DataFileException"/> naming both accepted names.</summary>
    public static string Require(string folder, string name) =>
        Find(folder, name)
        ?? throw new DataFileException(Path.Combine(folder, name), $"not found: expected {name} or {name}.gz in {folder}");
}
