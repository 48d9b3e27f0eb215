// postoffice: the command-line shell over the PostOffice embedding API.
import PostOffice

print("postoffice: not yet wired")
