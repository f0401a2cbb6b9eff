namespace Snn.Core.Data;

/// <summary>
/// A dataset file or folder that does not hold what its format requires. The message names the file
/// (<see cref="FilePath"/>) and says what was expected and what was found.
/// </summary>
public sealed class DataFileException : IOException
{
    /// <summary>Creates the exception; the message is "&lt;path&gt;: &lt;problem&gt;".</summary>
    /// <param name="filePath">The file or folder at fault.</param>
    /// <param name="problem">What was expected and what was found.</param>
    /// <param name="inner">The underlying failure, if any (e.g. a broken gzip stream).</param>
    public DataFileException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file or folder at fault.</summary>
    public string FilePath { get; }
}
