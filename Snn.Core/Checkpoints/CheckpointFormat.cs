using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Snn.Core.Checkpoints;

/// <summary>
/// The checkpoint file layout, format SNNCKPT2:
/// <code>
/// offset  0  9 bytes   the header string: length byte 8, then ASCII "SNNCKPT2"
/// offset  9  8 bytes   payload length n, int64 little-endian
/// offset 17 32 bytes   SHA-256 of the n payload bytes
/// offset 49  n bytes   payload: metadata (length-prefixed UTF-8 JSON), then the body:
///                      a module checkpoint: optimizer flag byte, module state, optimizer state;
///                      a spiking network: its SpikingNetworkState (SNNSTATE2)
/// </code>
/// A file is intact when it is exactly 49 + n bytes long and its payload hashes to the stored digest.
/// </summary>
internal static class CheckpointFormat
{
    /// <summary>The current format's name.</summary>
    public const string Magic = "SNNCKPT2";

    /// <summary>The first format's name: the same payload without a header length or hash.</summary>
    public const string OldMagic = "SNNCKPT1";

    /// <summary>Bytes before the payload.</summary>
    public const int HeaderSize = 9 + 8 + 32;

    private static readonly byte[] MagicBytes = HeaderString(Magic);

    private static readonly byte[] OldMagicBytes = HeaderString(OldMagic);

    /// <summary>Writes the header with a zero length and digest, to be filled by <see cref="Seal"/>.</summary>
    public static void WritePlaceholder(Stream stream)
    {
        stream.Write(MagicBytes);
        stream.Write(new byte[HeaderSize - MagicBytes.Length]);
    }

    /// <summary>Fills the header of a stream whose payload has been written through a <see cref="HashingStream"/>.</summary>
    public static void Seal(Stream stream, long payloadLength, byte[] digest)
    {
        Span<byte> tail = stackalloc byte[HeaderSize - 9];
        BinaryPrimitives.WriteInt64LittleEndian(tail, payloadLength);
        digest.CopyTo(tail[8..]);
        stream.Position = 9;
        stream.Write(tail);
        stream.Position = HeaderSize + payloadLength;
    }

    /// <summary>
    /// Checks the header, the length and the hash of an open checkpoint and leaves the stream at the start of
    /// the payload; throws the <see cref="CheckpointError"/> exception naming what was expected and found.
    /// </summary>
    public static void Verify(FileStream stream, string path)
    {
        var length = stream.Length;
        if (length < HeaderSize)
        {
            stream.Position = 0;
            var head = new byte[(int)length];
            stream.ReadExactly(head);
            if (StartsWith(head, OldMagicBytes))
            {
                throw OldFormat(path);
            }

            throw CheckpointError.Create(
                path, CheckpointProblem.Damaged, $"a checkpoint of at least {HeaderSize} bytes (its header)",
                length == 0 ? "an empty file (0 bytes)" : $"{length} bytes (the file is truncated)");
        }

        var header = new byte[HeaderSize];
        stream.Position = 0;
        stream.ReadExactly(header);
        if (StartsWith(header, OldMagicBytes))
        {
            throw OldFormat(path);
        }

        if (!StartsWith(header, MagicBytes))
        {
            throw CheckpointError.Create(
                path, CheckpointProblem.UnsupportedFormat, $"the header {Magic}", $"the bytes {Printable(header.AsSpan(0, 9))}");
        }

        var declared = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(9, 8));
        if (declared < 0 || declared != length - HeaderSize)
        {
            throw CheckpointError.Create(
                path, CheckpointProblem.Damaged,
                $"{(declared < 0 ? "a payload length >= 0 in its header" : $"{HeaderSize + declared} bytes (its header declares a {declared}-byte payload)")}",
                $"{length} bytes (the file was truncated, extended or its header overwritten)");
        }

        var stored = header.AsSpan(17, 32).ToArray();
        var actual = SHA256.HashData(stream);
        if (!actual.AsSpan().SequenceEqual(stored))
        {
            throw CheckpointError.Create(
                path, CheckpointProblem.Damaged, $"the content hash SHA-256 {Convert.ToHexStringLower(stored)} recorded in its header",
                $"SHA-256 {Convert.ToHexStringLower(actual)} (bytes were changed after the file was written)");
        }

        stream.Position = HeaderSize;
    }

    private static InvalidDataException OldFormat(string path) =>
        CheckpointError.Create(path, CheckpointProblem.UnsupportedFormat, $"format {Magic} (with a content hash)",
            $"the older format {OldMagic}, which has no content hash and cannot be verified");

    private static byte[] HeaderString(string magic) => [(byte)magic.Length, .. Encoding.ASCII.GetBytes(magic)];

    private static bool StartsWith(ReadOnlySpan<byte> data, ReadOnlySpan<byte> prefix) =>
        data.Length >= prefix.Length && data[..prefix.Length].SequenceEqual(prefix);

    /// <summary>Bytes as ASCII where printable, \xNN otherwise, in quotes.</summary>
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder("\"");
        foreach (var b in bytes)
        {
            text.Append(b is >= 0x20 and < 0x7f and not (byte)'"' and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        }

        return text.Append('"').ToString();
    }
}

/// <summary>A write-only stream that forwards every byte to another stream and hashes it with SHA-256.</summary>
internal sealed class HashingStream(Stream inner) : Stream
{
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>Bytes written so far.</summary>
    public long Written { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Written;

    public override long Position
    {
        get => Written;
        set => throw new NotSupportedException();
    }

    /// <summary>The SHA-256 of every byte written.</summary>
    public byte[] Digest() => hash.GetHashAndReset();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        hash.AppendData(buffer);
        Written += buffer.Length;
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
