using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

namespace Snn.Core.Data;

/// <summary>
/// The content of a regular file, raw or gzip-compressed (detected by the magic bytes 1f 8b), read in pieces
/// the caller sizes from the file's own header, so nothing is decompressed beyond what the header declares.
/// Gzip files are read as gzip tools read them: any number of members, each member's CRC-32 checked (by the
/// decompressor); after the data, <see cref="GzipEndProblem"/> checks that the file's last 8 bytes are the
/// trailer of the last member, which catches a stream cut short and bytes after its end.
/// </summary>
public sealed class DecodedFile : IDisposable
{
    private readonly SizedFileStream file;
    private readonly Stream content;
    private readonly byte[] trailer = new byte[8];

    private DecodedFile(string path, SizedFileStream file)
    {
        Path = path;
        this.file = file;
        FileLength = file.Length;
        Span<byte> magic = stackalloc byte[2];
        Gzipped = FileLength >= 2 && RandomAccess.Read(file.Handle, magic, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        if (Gzipped && FileLength >= trailer.Length)
        {
            RandomAccess.Read(file.Handle, trailer, FileLength - trailer.Length);
        }

        content = Gzipped ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : file;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>The file's size in bytes (compressed size for a gzip file).</summary>
    public long FileLength { get; }

    /// <summary>Whether the file is gzip-compressed.</summary>
    public bool Gzipped { get; }

    /// <summary>Bytes of content produced so far.</summary>
    public long Produced { get; private set; }

    /// <summary>Opens a regular file (see <see cref="DataFiles.OpenRegular"/>).</summary>
    public static DecodedFile Open(string path) => new(path, DataFiles.OpenRegular(path, out _));

    /// <summary>Reads content until <paramref name="buffer"/> is full or the content ends; returns the bytes read.</summary>
    public int Fill(Span<byte> buffer)
    {
        var total = 0;
        try
        {
            while (total < buffer.Length)
            {
                var read = content.Read(buffer[total..]);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataFileException(
                Path,
                string.Create(CultureInfo.InvariantCulture, $"is not a valid gzip stream after {Produced + total:N0} decompressed bytes ({e.Message}): expected a gzip file whose members all check (CRC-32); re-copy or re-install it"),
                e);
        }

        Produced += total;
        return total;
    }

    /// <summary>Whether content remains (reads at most one byte, which is then lost).</summary>
    public bool HasMore()
    {
        Span<byte> one = stackalloc byte[1];
        return Fill(one) == 1;
    }

    /// <summary>
    /// For a gzip file read to its end: null when its last 8 bytes are the trailer (CRC-32, size mod 2^32) of a
    /// suffix of the content (the last member), else a description of the problem. Always null for a raw file.
    /// </summary>
    /// <param name="total">The content's length in bytes (everything read).</param>
    /// <param name="crcFrom">Gives the CRC-32 of the content from a start offset to its end (called at most once).</param>
    public string? GzipEndProblem(long total, Func<long, uint> crcFrom)
    {
        ArgumentNullException.ThrowIfNull(crcFrom);
        if (!Gzipped)
        {
            return null;
        }

        var crc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        var size = BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(4));
        var consistent = FileLength >= 18 && (size == (uint)total || (size < total && crcFrom(total - size) == crc));
        return consistent
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"is not a complete gzip stream: it decompressed to {total:N0} bytes, but its last 8 bytes are not the trailer " +
              $"of that data (they record {size:N0} bytes with CRC-32 0x{crc:X8}); expected a whole gzip file with nothing after " +
              $"its end (re-copy or re-install it)");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        content.Dispose();
        file.Dispose();
    }
}
