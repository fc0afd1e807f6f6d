using System.Text.Json;
using Accelerate.Hosting;

namespace Accelerate.Runtime.Tests.Hosting;

[TestClass]
public sealed class TrainingErrorFileTests
{
    [TestMethod]
    public void The_record_has_torchruns_shape()
    {
        var exception = Thrown(() => throw new ArgumentException("bad \"value\""));

        using var record = JsonDocument.Parse(TrainingErrorFile.Format(exception, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));

        var message = record.RootElement.GetProperty("message");
        Assert.AreEqual("System.ArgumentException: bad \"value\"", message.GetProperty("message").GetString());
        var extra = message.GetProperty("extraInfo");
        Assert.AreEqual("1700000000", extra.GetProperty("timestamp").GetString());
        Assert.AreEqual(exception.ToString(), extra.GetProperty("py_callstack").GetString());
        StringAssert.Contains(extra.GetProperty("py_callstack").GetString(), nameof(The_record_has_torchruns_shape));
    }

    [TestMethod]
    public void Writing_creates_the_folder_and_replaces_an_older_record()
    {
        var directory = Path.Combine(Path.GetTempPath(), "accelerate-error-file-" + Guid.NewGuid().ToString("N"));
        var path = Path.Combine(directory, "0", "error.json");
        try
        {
            Assert.IsNull(TrainingErrorFile.TryWrite(path, new InvalidOperationException("first"), DateTimeOffset.UtcNow));
            Assert.IsNull(TrainingErrorFile.TryWrite(path, new InvalidOperationException("second"), DateTimeOffset.UtcNow));

            StringAssert.Contains(File.ReadAllText(path), "System.InvalidOperationException: second");
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [TestMethod]
    public void A_path_that_cannot_be_written_is_reported_not_thrown()
    {
        var directory = Directory.CreateTempSubdirectory("accelerate-error-file-").FullName;
        try
        {
            // The path is a folder, so no file can be written there.
            var problem = TrainingErrorFile.TryWrite(directory, new InvalidOperationException("x"), DateTimeOffset.UtcNow);

            Assert.IsNotNull(problem);
            StringAssert.StartsWith(problem, $"could not write the error record to TORCHELASTIC_ERROR_FILE='{directory}'");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static Exception Thrown(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            return e;
        }
        throw new AssertFailedException("Nothing was thrown.");
    }
}
