namespace Snn.Core.Data;

/// <summary>
/// CRC-32 of gzip trailers (ISO 3309 / RFC 1952: reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF), computed incrementally over several spans with a 256-entry table.
/// </summary>
public struct Crc32
{
    private static readonly uint[] Table = BuildTable();
    private uint state;

    /// <summary>Creates a CRC over no bytes yet.</summary>
    public Crc32() => state = 0xFFFFFFFFu;

    /// <summary>The CRC-32 of every byte given so far (0 for none).</summary>
    public readonly uint Value => state ^ 0xFFFFFFFFu;

    /// <summary>The CRC-32 of <paramref name="bytes"/>.</summary>
    /// <param name="bytes">The bytes.</param>
    public static uint Of(ReadOnlySpan<byte> bytes)
    {
        var crc = new Crc32();
        crc.Append(bytes);
        return crc.Value;
    }

    /// <summary>Adds bytes to the checksum.</summary>
    /// <param name="bytes">The next bytes, in stream order.</param>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        var crc = state;
        foreach (var b in bytes)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        state = crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }

            table[n] = c;
        }

        return table;
    }
}
